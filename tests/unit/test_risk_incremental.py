"""Incremental updates give the flags a rebuild gives: a year of random but reproducible
events, read in batches of every size, against the same events read all at once; and a
reorganisation that takes events back."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from sqlalchemy import delete

from ledger_client.risk.models import RiskCheckpoint, RiskFlag
from ledger_client.risk.thresholds import RiskThresholds
from ledger_client.store.database import Database
from tests.unit.risk_index import (
    DAY,
    HOUR,
    FakeIndex,
    address,
    child,
    comparable,
    document,
    flags,
    of,
    rebuild,
    update,
)

BORDERS = ("MD-LEUSENI", "MD-OTACI", "MD-GIURGIULESTI")
MANY = (address(600), document(600))


def play(index: FakeIndex, seed: int, after_event: Callable[[], None]) -> None:
    """A reproducible year: eight families, strangers, denials, guardians, interventions."""
    rng = random.Random(seed)
    kids: dict[str, list[str]] = {}
    for n in range(1, 9):
        parents = [
            (address(n * 10 + 1), document(n * 10 + 1)),
            (address(n * 10 + 2), document(n * 10 + 2)),
        ]
        for k in range(1, rng.randint(1, 3) + 1):
            kids[child(n * 10 + k)] = [doc for _, doc in parents]
            index.enrol(child(n * 10 + k), parents)
    strangers = [document(700 + i) for i in range(3)]
    away: set[str] = set()
    for step in range(260):
        index.later(rng.choice((HOUR, 5 * HOUR, DAY, 2 * DAY, 3 * DAY)))
        kid = rng.choice(sorted(kids))
        roll = rng.random()
        if roll < 0.05:
            index.add_guardian(kid, *MANY)
            kids[kid].append(MANY[1])
        elif roll < 0.08:
            newcomer = 800 + step
            index.add_guardian(kid, address(newcomer), document(newcomer))
            kids[kid].append(document(newcomer))
        elif roll < 0.10 and MANY[1] in kids[kid]:
            index.remove_guardian(kid, MANY[0])
            kids[kid].remove(MANY[1])
        elif roll < 0.18 and kid in away:
            index.request(kid, rng.choice(kids[kid]), direction="entry")
            away.discard(kid)
        elif roll < 0.2:
            index.tick(rng.choice((10, 20, 31)) * DAY)
        else:
            companion = rng.choice(kids[kid] + strangers)
            border = rng.choice(BORDERS)
            request = index.request(kid, companion, border=border)
            fate = rng.random()
            if fate < 0.2:
                index.later(HOUR).deny(request)
                if rng.random() < 0.6:
                    index.later(rng.choice((2, 6, 13)) * HOUR)
                    index.request(kid, companion, border=rng.choice(BORDERS))
            elif fate < 0.3:
                index.later(HOUR).co_approve(request)
            elif fate < 0.35:
                index.later(HOUR).override(request)
            if fate >= 0.2 and rng.random() < 0.7:
                index.outcome(request, kid)
                away.add(kid)
        after_event()
    index.tick(40 * DAY)
    after_event()


def forget_flags(database: Database) -> None:
    with database.transaction() as session:
        session.execute(delete(RiskFlag))
        session.execute(delete(RiskCheckpoint))


# Eight families are too few to reach the default five for indicator 5.
SMALL_WORLD = RiskThresholds(guardian_families=4)


@pytest.mark.parametrize("seed", [1, 2])
def test_batches_of_every_size_give_the_flags_of_one_pass(database: Database, seed: int) -> None:
    index = FakeIndex(database)
    batches = random.Random(seed * 7)
    pending = 0

    def now_and_then() -> None:
        nonlocal pending
        pending += 1
        if batches.random() < 1 / (1 + pending):  # batches of one event up to dozens
            update(database, SMALL_WORLD)
            pending = 0

    play(index, seed, now_and_then)
    update(database, SMALL_WORLD)
    incremental = comparable(database)
    fired = {row[0] for row in incremental}
    assert len(fired) == 7, f"the scenario must exercise every indicator, fired: {fired}"

    rebuild(database, SMALL_WORLD)
    assert comparable(database) == incremental
    forget_flags(database)
    update(database, SMALL_WORLD)  # the first run reads everything at once
    assert comparable(database) == incremental


def test_a_reorganisation_takes_its_evidence_back(database: Database) -> None:
    index = FakeIndex(database)
    kid = child(11)
    index.enrol(kid, [(address(11), document(11))])
    for _ in range(5):
        index.later(DAY).request(kid, document(11))
    fork = index.block
    index.later(DAY).request(kid, document(11))
    index.later(DAY).request(kid, document(11))
    update(database)
    assert of(database, "frequent-crossings")[kid].facts["count"] == 7

    # The chain replaces the last two blocks, and the new branch grows past them with a
    # child enrolled instead: the engine must not keep the two vanished requests.
    index.roll_back_to(fork)
    other = child(21)
    index.later(DAY).enrol(other, [(address(21), document(21))])
    index.later(DAY).enrol(child(31), [(address(31), document(31))])
    index.later(DAY).enrol(child(41), [(address(41), document(41))])
    update(database)
    assert of(database, "frequent-crossings") == {}

    index.later(DAY).request(kid, document(11))
    update(database)
    after = comparable(database)
    assert of(database, "frequent-crossings")[kid].facts["count"] == 6
    forget_flags(database)
    update(database)
    assert comparable(database) == after


def test_a_rollback_below_the_last_run_is_noticed_before_anything_new(database: Database) -> None:
    index = FakeIndex(database)
    kid = child(11)
    index.enrol(kid, [(address(11), document(11))])
    for _ in range(6):
        index.later(DAY).request(kid, document(11))
    update(database)
    assert of(database, "frequent-crossings")
    index.roll_back_to(index.block - 1)
    report = update(database)
    assert report.subjects_checked > 0  # rebuilt
    assert flags(database) == []
