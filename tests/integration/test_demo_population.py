"""The demo population: a year of a small population's history, on the embedded chain."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_utils.crypto import keccak
from sqlalchemy import func, select

from ledger_client.demo_population import (
    HISTORY,
    INDICATORS,
    PLANTED_FILE,
    Kind,
    Plan,
    PopulationResult,
    build_population,
    plan_population,
)
from ledger_client.demo_population.build import NOT_SENT
from ledger_client.demo_population.clock import ChainClock
from ledger_client.errors import ConfigurationError, ConflictError, InputError
from ledger_client.indexer.tables import (
    ChainChild,
    ChainDecision,
    ChainGuardianChange,
    ChainOutcome,
    ChainOverride,
    ChainRequest,
)
from ledger_client.notify.models import NoticeState, Notification
from ledger_client.services import children, crossings, staff
from ledger_client.services.context import Tutela, open_tutela
from ledger_client.services.setup import initialise
from ledger_client.settings import load_settings
from ledger_client.store.models import Child, CrossingRequest, Guardian
from tests.conftest import World, clean_environment
from tests.integration.test_no_personal_data import _chain_bytes

DAY = 86_400
SEED, SIZE, PLANTED = 11, 24, 1


@dataclass
class Built:
    tutela: Tutela
    result: PopulationResult
    built_at: int
    last_request: int  # the history's newest request


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """One small population for the module's tests, which only read it (or add at the end)."""
    with pytest.MonkeyPatch.context() as patch:
        clean_environment(patch)
        settings = load_settings(tmp_path_factory.mktemp("population") / "data", None)
        initialise(settings, time_offset=-HISTORY)
        with open_tutela(settings) as tutela:
            result = build_population(tutela, seed=SEED, size=SIZE, planted=PLANTED)
            with tutela.database.reading() as session:
                last = session.scalar(select(func.max(CrossingRequest.request_id)))
            yield Built(tutela, result, int(time.time()), int(last or 0))


def _count(tutela: Tutela, model: object, *conditions: object) -> int:
    with tutela.database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*conditions)))  # type: ignore[arg-type]


def test_every_planned_step_is_on_the_chain_over_a_year(built: Built) -> None:
    tutela, made = built.tutela, built.result.made
    tutela.refresh_index()
    assert _count(tutela, ChainChild) == built.result.children == SIZE
    assert _count(tutela, ChainRequest) == made["request"] == built.result.requests
    assert _count(tutela, ChainDecision, ChainDecision.kind == "guardian") == made["guardian"]
    assert _count(tutela, ChainDecision, ChainDecision.kind == "protection") == made["protection"]
    assert _count(tutela, ChainOverride) == made["override"] >= 1
    assert _count(tutela, ChainOutcome) == made["outcome"]
    # Guardians added after enrolment: not in their child's registration transaction.
    with tutela.database.reading() as session:
        enrolments = set(session.scalars(select(ChainChild.tx_hash)))
        additions = session.scalars(select(ChainGuardianChange.tx_hash)).all()
        times = session.scalars(select(ChainRequest.block_time)).all()
        denied = session.scalar(
            select(func.count()).select_from(ChainDecision).where(ChainDecision.approved.is_(False))
        )
        # Every request in the store has its number and transaction: nothing left unsent.
        unsent = session.scalar(
            select(func.count())
            .select_from(CrossingRequest)
            .where(CrossingRequest.request_id.is_(None) | CrossingRequest.tx_hash.is_(None))
        )
    assert sum(1 for tx in additions if tx not in enrolments) == made["add-guardian"] >= 1
    assert denied
    assert not unsent
    # The crossings span the year, in the past, and bunch up in the summer holidays.
    first, last = min(times), max(times)
    assert built.built_at - HISTORY <= first < built.built_at - 300 * DAY
    assert built.built_at - 60 * DAY < last <= built.built_at
    months = Counter(datetime.fromtimestamp(t, UTC).month for t in times)
    assert len(months) >= 8


def test_the_chain_goes_on_at_the_wall_clock_afterwards(built: Built) -> None:
    tutela = built.tutela
    assert ChainClock(tutela.w3).offset == 0
    with tutela.database.reading() as session:
        card = session.scalars(select(Child.card_number)).first()
    assert card is not None
    before = int(time.time())
    made = crossings.request_crossing(
        tutela,
        card,
        direction="entry",
        border_point="LEUSENI",
        companion_name="Vera Rusu",
        companion_document="MD-5555-0001",
        acting_as=next(m.name for m in staff.list_staff(tutela) if m.role == "border-officer"),
    )
    assert made.status == "approved"
    latest = tutela.w3.eth.get_block("latest")["timestamp"]
    assert before - 2 <= latest <= int(time.time()) + 2


def test_families_share_their_guardians(built: Built) -> None:
    with built.tutela.database.reading() as session:
        rows = session.execute(select(Guardian.document_commitment, Guardian.child_id)).all()
    children_of: dict[str, set[str]] = defaultdict(set)
    guardians_of: dict[str, set[str]] = defaultdict(set)
    for commitment, child_id in rows:
        children_of[commitment].add(child_id)
        guardians_of[child_id].add(commitment)
    siblings = [kids for kids in children_of.values() if len(kids) >= 2]
    assert len(siblings) >= 3
    # Siblings of a two-parent family share both parents.
    assert any(
        len(guardians_of[a] & guardians_of[b]) >= 2
        for kids in siblings
        for a in kids
        for b in kids
        if a < b
    )
    assert any(len(found) == 1 for found in guardians_of.values())  # single parents


def test_history_notifications_are_never_sent(built: Built) -> None:
    history = Notification.request_id.is_(None) | (Notification.request_id <= built.last_request)
    with built.tutela.database.reading() as session:
        states = Counter(
            (state, error, sealed is None)
            for state, error, sealed in session.execute(
                select(
                    Notification.state, Notification.last_error, Notification.payload_sealed
                ).where(history)
            )
        )
    assert states == {(NoticeState.FAILED, NOT_SENT, True): built.result.notifications_silenced}
    assert built.result.notifications_silenced > built.result.requests
    # A request made after the build asks its guardians as any other.
    tutela = built.tutela
    with tutela.database.reading() as session:
        card = session.scalars(select(Child.card_number)).first()
    assert card is not None
    made = crossings.request_crossing(
        tutela,
        card,
        direction="exit",
        border_point="PALANCA",
        companion_name="Vera Rusu",
        companion_document="MD-5555-0002",
        acting_as=next(m.name for m in staff.list_staff(tutela) if m.role == "border-officer"),
    )
    with tutela.database.reading() as session:
        fresh = session.scalars(
            select(Notification.state).where(Notification.request_id == made.request)
        ).all()
    assert fresh
    assert set(fresh) == {NoticeState.QUEUED}


def test_ground_truth_names_the_planted_subjects(built: Built) -> None:
    truth = json.loads(built.result.planted_path.read_text())
    assert built.result.planted_path.name == PLANTED_FILE
    assert list(truth) == list(INDICATORS)
    assert all(len(subjects) == PLANTED for subjects in truth.values())
    with built.tutela.database.reading() as session:
        child_ids = set(session.scalars(select(Child.child_id)))
        guardians = set(session.scalars(select(Guardian.document_commitment)))
        companions = set(session.scalars(select(CrossingRequest.companion_commitment)))
    for key, subjects in truth.items():
        if key == "companion-unrelated-children":
            assert set(subjects) <= companions - guardians
        elif key == "guardian-of-many":
            assert set(subjects) <= guardians
        else:
            assert set(subjects) <= child_ids


def test_no_personal_data_on_the_chain(built: Built) -> None:
    tutela = built.tutela
    texts: set[str] = set()
    with tutela.database.reading() as session:
        cards = session.scalars(select(Child.card_number)).all()
        stored = session.scalars(select(CrossingRequest)).all()
    for card in cards:
        child = children.show_child(tutela, card)
        year, month, day = child.birth_date.split("-")
        texts |= {f"{child.given_name} {child.family_name}", child.birth_date}
        texts |= {f"{day}.{month}.{year}", child.family_name, child.birth_place}
        for guardian in child.guardians:
            texts |= {guardian.name, guardian.document, guardian.email}
    for request in stored:
        companion = crossings.open_companion(tutela, request)
        texts |= {companion["name"], companion["document"]}
    # Short words (a 3-letter given name) could turn up in random bytes; full names,
    # documents and dates cannot, and their hashes stand for every length.
    needles: list[bytes] = []
    for text in texts:
        for variant in {text, text.lower(), text.upper()}:
            raw = variant.encode()
            needles += [keccak(raw), hashlib.sha256(raw).digest()]
            if len(raw) >= 6:
                needles.append(raw)
    scanned = _chain_bytes(World(settings=tutela.settings, tutela=tutela))
    child_ids = {bytes.fromhex(c.child_id.removeprefix("0x")) for c in stored}
    assert all(any(child_id in raw for _, raw in scanned) for child_id in child_ids)
    for where, raw in scanned:
        for needle in needles:
            assert needle not in raw, f"personal data found in {where}"


def test_a_second_build_and_a_chain_without_history_are_refused(
    built: Built, embedded_world: World
) -> None:
    with pytest.raises(ConflictError, match="population already"):
        build_population(built.tutela, size=SIZE, planted=PLANTED)
    tutela = embedded_world.tutela
    head = tutela.w3.eth.block_number
    with pytest.raises(ConfigurationError, match="not a year behind"):
        build_population(tutela, size=SIZE, planted=PLANTED)
    assert tutela.w3.eth.block_number == head
    assert not (embedded_world.settings.data_dir / PLANTED_FILE).exists()


# -- the plan, without a chain ------------------------------------------------------------------

NOW = 1_790_000_000


def _plan(seed: int = 3, size: int = 200, planted: int = 5) -> Plan:
    return plan_population(seed=seed, size=size, planted=planted, start=NOW - HISTORY, end=NOW)


def test_a_plan_is_drawn_from_its_seed() -> None:
    assert _plan() == _plan()
    assert _plan(seed=4) != _plan()


def test_a_plan_keeps_each_crossing_in_order_and_children_enrolled_first() -> None:
    plan = _plan()
    enrolled: dict[str, int] = {}
    tickets: dict[str, int] = {}
    for step in plan.steps:
        if step.kind == Kind.ENROL:
            enrolled[step.child] = step.at
            continue
        assert enrolled[step.child] < step.at
        if step.kind == Kind.REQUEST:
            tickets[step.ticket] = step.at
        elif step.ticket:
            # Decisions and outcomes within the request's hour.
            assert tickets[step.ticket] < step.at < tickets[step.ticket] + 3600
    assert all(NOW - HISTORY <= step.at <= NOW for step in plan.steps)
    assert len(plan.children) == 200
    kinds = {key: len(subjects) for key, subjects in plan.planted.items()}
    assert kinds == dict.fromkeys(INDICATORS, 5)
    child_subjects = [c for key in INDICATORS[1:4] + INDICATORS[5:] for c in plan.planted[key]]
    assert len(set(child_subjects)) == len(child_subjects)


def test_crossings_peak_in_the_holidays() -> None:
    plan = _plan()
    months = Counter(
        datetime.fromtimestamp(step.at, UTC).month
        for step in plan.steps
        if step.kind == Kind.REQUEST and step.direction == "exit"
    )
    quiet = (months[3] + months[10] + months[11]) / 3
    assert months[7] + months[8] > 4 * quiet


@pytest.mark.parametrize(
    ("size", "planted", "message"),
    [(0, 1, "size"), (10, 5, "at least"), (200, -1, "planted"), (200, 51, "planted")],
)
def test_impossible_populations_are_refused(size: int, planted: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _plan(size=size, planted=planted)
    with pytest.raises(InputError, match="year"):
        plan_population(seed=1, size=200, planted=5, start=NOW - 30 * DAY, end=NOW)


def test_the_script_refuses_a_folder_in_use(tmp_path: Path) -> None:
    folder = tmp_path / "used"
    initialise(load_settings(folder, None))
    script = Path(__file__).parents[2] / "scripts" / "demo_data.py"
    done = subprocess.run(
        [sys.executable, str(script), "--data-dir", str(folder), "--size", "24"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "is in use" in done.stderr
    assert not (folder / PLANTED_FILE).exists()
