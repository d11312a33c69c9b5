"""Carrying a plan out on the real chain, through the real services, in the chain's past.

Every step goes through the service a desk would use (``children.enrol_child``,
``crossings.request_crossing``, ``decide_as_protection``, ``override_by_court_order``,
``record_outcome``, ``children.add_guardian``), so each has its transaction and its store
rows. Guardians decide with their own keys: each key is opened once, with the activation
code its enrolment made, and kept in memory for the run; the decision is signed with it
and relayed as ``decide_as_guardian`` relays one.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from ledger_client.contracts.types import RequestId
from ledger_client.demo_population.clock import ChainClock
from ledger_client.demo_population.model import (
    DAY,
    HOUR,
    INDICATORS,
    SUBJECT_KINDS,
    Kind,
    Plan,
    Step,
)
from ledger_client.demo_population.plan import plan_population
from ledger_client.errors import ConfigurationError, ConflictError
from ledger_client.identity import document_commitment, normalise_document
from ledger_client.keys import MIN_WORK_FACTOR, LocalSigner
from ledger_client.notify.models import NoticeState, Notification
from ledger_client.outbox.outbox import Call
from ledger_client.risk.thresholds import RiskThresholds
from ledger_client.services import children, crossings, staff
from ledger_client.services.context import Prepared, Tutela, staff_acting_as
from ledger_client.services.guardian_keys import (
    ActivationCode,
    account_by_commitment,
    commitment_hex,
    unlock_guardian_key,
)
from ledger_client.store.models import StaffRole

logger = logging.getLogger(__name__)

PLANTED_FILE = "demo-planted.json"
DEFAULT_SEED = 5
DEFAULT_SIZE = 200
DEFAULT_PLANTED = 5
#: How far back the chain must start for a year of history.
HISTORY = 365 * DAY
# What a border officer sees for a message the demo's history queued and never sent.
NOT_SENT = "not sent: demo history"
# Who acts at the desks when the data folder has nobody in a role yet.
DESK_STAFF = (
    ("Lilia Bivol", StaffRole.REGISTRAR),
    ("Petru Grosu", StaffRole.BORDER_OFFICER),
    ("Aurelia Munteanu", StaffRole.CHILD_PROTECTION),
)


@dataclass(frozen=True)
class PopulationResult:
    children: int
    families: int
    guardians: int
    requests: int
    steps: int
    first_at: datetime
    last_at: datetime
    planted: dict[str, list[str]]  # indicator key -> subjects, as the ground truth file
    planted_path: Path
    notifications_silenced: int
    seconds: float
    made: dict[str, int]  # step kind ("enrol", "request", "guardian"...) -> how many


def build_population(
    tutela: Tutela,
    *,
    seed: int = DEFAULT_SEED,
    size: int = DEFAULT_SIZE,
    planted: int = DEFAULT_PLANTED,
    thresholds: RiskThresholds | None = None,
    echo: Callable[[str], None] | None = None,
) -> PopulationResult:
    """Writes a year of a population's history into the chain and the store.

    The chain's clock must stand about a year behind the wall clock (a data folder made
    with ``initialise(settings, time_offset=-HISTORY)``); the build walks it forward step
    by step and leaves it on the wall clock. The ground truth (indicator key -> planted
    subjects: companions' and guardians' document commitments, child ids) goes to
    ``demo-planted.json`` in the data folder. Notifications the history queued are marked
    as never to be sent. The patterns are planted against ``thresholds``, by default the
    settings' (``TUTELA_RISK_*``, the defaults of issue 5 unless set).

    Raises:
        ConflictError: this data folder has a population already.
        ConfigurationError: the chain's clock is not a year back, or cannot be moved.
        InputError: a size or planted count out of range (see ``plan_population``).
    """
    began = time.monotonic()
    say = echo or (lambda _: None)
    path = tutela.settings.data_dir / PLANTED_FILE
    if path.exists():
        raise ConflictError(f"{path.name} exists: this data folder has its population already")
    if not has_history_room(tutela):
        raise ConfigurationError(
            "the demo population writes a year into the chain's past, but this chain's clock "
            "is not a year behind: build it in a new data folder made for it"
        )
    clock = ChainClock(tutela.w3)
    latest = int(tutela.w3.eth.get_block("latest")["timestamp"])
    start = max(latest, int(clock.now())) + 10 * 60
    end = int(time.time()) - 2 * HOUR
    plan = plan_population(
        seed=seed,
        size=size,
        planted=planted,
        start=start,
        end=end,
        thresholds=thresholds or tutela.settings.risk,
    )
    desks = _desk_staff(tutela)
    # The population's guardians never get their activation codes: each key is opened once
    # below and the code forgotten, so its keystore guards an 80-bit random secret that no
    # work factor would make guessable. The lowest one keeps a build to about two minutes.
    fast = replace(tutela.settings, keystore_work_factor=MIN_WORK_FACTOR)
    working = replace(tutela, settings=fast, clock=clock.now)
    run = _Run(working, plan, desks, clock, say)
    try:
        run.all()
    finally:
        clock.finish()
    silenced = _silence(tutela, run.accounts)
    truth = run.truth()
    path.write_text(json.dumps(truth, indent=2) + "\n")
    result = PopulationResult(
        children=len(plan.children),
        families=plan.families,
        guardians=len(run.signers),
        requests=plan.count(Kind.REQUEST),
        steps=len(plan.steps),
        first_at=datetime.fromtimestamp(plan.steps[0].at, UTC),
        last_at=datetime.fromtimestamp(plan.steps[-1].at, UTC),
        planted=truth,
        planted_path=path,
        notifications_silenced=silenced,
        seconds=time.monotonic() - began,
        made={str(kind): plan.count(kind) for kind in Kind},
    )
    logger.info("demo population built: %d steps in %.0f s", result.steps, result.seconds)
    return result


def population_built(tutela: Tutela) -> bool:
    """Whether this data folder has its population (its ground truth file) already."""
    return (tutela.settings.data_dir / PLANTED_FILE).exists()


def has_history_room(tutela: Tutela) -> bool:
    """Whether the chain's clock stands about a year back, as a population needs."""
    latest = int(tutela.w3.eth.get_block("latest")["timestamp"])
    start = max(latest, int(ChainClock(tutela.w3).now()))
    return int(time.time()) - start >= HISTORY - 30 * DAY


def resume_wall_clock(tutela: Tutela) -> bool:
    """Brings a chain left in the past (a build that was interrupted) to the wall clock.

    Returns:
        Whether the clock moved.

    Raises:
        ChainError: the node cannot move its clock.
    """
    clock = ChainClock(tutela.w3)
    if clock.offset >= 0:
        return False
    clock.finish()
    return True


def _desk_staff(tutela: Tutela) -> dict[StaffRole, str]:
    """The registrar, border officer and child-protection officer who act: the first
    active member of each role, or one made now."""
    members = [m for m in staff.list_staff(tutela) if m.active]
    desks: dict[StaffRole, str] = {}
    for name, role in DESK_STAFF:
        found = next((m.name for m in members if m.role == role), None)
        if found is None:
            found = staff.add_staff(tutela, name, str(role)).name
        desks[role] = found
    return desks


class _Run:
    """One pass over a plan's steps, with what the steps made so far."""

    def __init__(
        self,
        tutela: Tutela,
        plan: Plan,
        desks: dict[StaffRole, str],
        clock: ChainClock,
        say: Callable[[str], None],
    ) -> None:
        self.tutela = tutela
        self.plan = plan
        self.desks = desks
        self.clock = clock
        self.say = say
        self.cards: dict[str, str] = {}  # child key -> card
        self.child_ids: dict[str, str] = {}  # child key -> child id
        self.requests: dict[str, int] = {}  # ticket -> request id
        self.signers: dict[str, LocalSigner] = {}  # person key -> their unlocked key
        self.accounts: set[int] = set()
        self.by_document = {
            normalise_document(person.document): key for key, person in plan.people.items()
        }

    def all(self) -> None:
        total = len(self.plan.steps)
        shown = 0
        self.say(f"Building the demo population: {len(self.plan.children)} children, {total} steps")
        for done, step in enumerate(self.plan.steps, start=1):
            self.clock.advance_to(step.at)
            self.step(step)
            if done * 10 // total > shown:
                shown = done * 10 // total
                moment = datetime.fromtimestamp(step.at, UTC).date().isoformat()
                self.say(f"  population: {shown * 10}% ({done} of {total} steps, {moment})")

    def step(self, step: Step) -> None:
        t = self.tutela
        if step.kind == Kind.ENROL:
            child = self.plan.children[step.child]
            view = children.enrol_child(
                t,
                given_name=child.given,
                family_name=child.family,
                birth_date=child.birth_date,
                birth_place=child.birth_place,
                guardian_specs=[self.plan.people[g].spec for g in child.guardians],
                policy=child.policy,
                acting_as=self.desks[StaffRole.REGISTRAR],
            )
            self.cards[step.child], self.child_ids[step.child] = view.card, view.child_id
            self._keep_keys(view.activation_codes)
        elif step.kind == Kind.ADD_GUARDIAN:
            view = children.add_guardian(
                t,
                self.cards[step.child],
                self.plan.people[step.person].spec,
                acting_as=self.desks[StaffRole.REGISTRAR],
            )
            self._keep_keys(view.activation_codes)
        elif step.kind == Kind.REQUEST:
            companion = self.plan.people[step.person]
            made = crossings.request_crossing(
                t,
                self.cards[step.child],
                direction=step.direction,
                border_point=step.point,
                companion_name=companion.name,
                companion_document=companion.document,
                acting_as=self.desks[StaffRole.BORDER_OFFICER],
            )
            self.requests[step.ticket] = made.request
        elif step.kind == Kind.GUARDIAN:
            _relay_decision(t, self.requests[step.ticket], self.signers[step.person], step.approve)
        elif step.kind == Kind.PROTECTION:
            crossings.decide_as_protection(
                t,
                str(self.requests[step.ticket]),
                approve=step.approve,
                acting_as=self.desks[StaffRole.CHILD_PROTECTION],
            )
        elif step.kind == Kind.OVERRIDE:
            year = datetime.fromtimestamp(step.at, UTC).year
            crossings.override_by_court_order(
                t,
                str(self.requests[step.ticket]),
                # A court file number like Moldova's courts give ("2c-1234/2025"); no names.
                court_order=f"2c-{secrets.randbelow(9000) + 1000}/{year}",
                acting_as=self.desks[StaffRole.CHILD_PROTECTION],
            )
        else:
            crossings.record_outcome(
                t,
                str(self.requests[step.ticket]),
                outcome=step.outcome,
                acting_as=self.desks[StaffRole.BORDER_OFFICER],
            )

    def _keep_keys(self, codes: Iterable[ActivationCode]) -> None:
        """Opens each new guardian's key once with its code, and keeps it for the run."""
        t = self.tutela
        for code in codes:
            with t.database.reading() as session:
                account = account_by_commitment(session, commitment_hex(t, code.document))
            assert account is not None  # the enrolment that showed the code made it
            self.accounts.add(account.id)
            person = self.by_document[normalise_document(code.document)]
            self.signers[person] = unlock_guardian_key(t, account.id, code.code)

    def truth(self) -> dict[str, list[str]]:
        """Indicator key -> planted subjects, as the risk engine names them."""
        t = self.tutela
        found: dict[str, list[str]] = {}
        for indicator in INDICATORS:
            subjects = self.plan.planted[indicator]
            if indicator in SUBJECT_KINDS:
                documents = [self.plan.people[key].document for key in subjects]
                found[indicator] = [
                    "0x" + document_commitment(t.commitment_key, d).hex() for d in documents
                ]
            else:
                found[indicator] = [self.child_ids[key] for key in subjects]
        return found


def _relay_decision(tutela: Tutela, request: int, signer: LocalSigner, approve: bool) -> None:
    """What ``crossings.decide_as_guardian`` does once the guardian's key is open: sign the
    EIP-712 decision with it (the same ``sign_decision``) and have the relayer send it (same
    action key)."""
    request_id = RequestId(request)
    intent = tutela.intent(
        "guardian-decision",
        {"request": request_id, "guardian": signer.address, "approve": approve},
        None,
        request_id,
    )
    signature, deadline = crossings.sign_decision(tutela, signer, request_id, approve)

    def prepare(session: Session) -> Prepared:
        relayer = staff_acting_as(session, StaffRole.RELAYER, None)
        call = tutela.ledger.decide_by_sig(request_id, signer.address, approve, deadline, signature)
        return Prepared(tutela.signer_of(relayer), [Call.of(call)])

    tutela.carry_out(intent, prepare)


def _silence(tutela: Tutela, accounts: set[int]) -> int:
    """Marks what the history queued for its guardians as never to be sent.

    The e-mails would ask about crossings long closed, and the activation codes open keys
    nobody is to hold; the codes are erased with the mark.
    """
    silenced = 0
    ordered = sorted(accounts)
    for first in range(0, len(ordered), 500):
        with tutela.database.transaction() as session:
            result = session.execute(
                update(Notification)
                .where(
                    Notification.account_id.in_(ordered[first : first + 500]),
                    Notification.state == NoticeState.QUEUED,
                )
                .values(state=NoticeState.FAILED, last_error=NOT_SENT, payload_sealed=None)
            )
            silenced += int(getattr(result, "rowcount", 0) or 0)
    return silenced
