"""Each risk indicator fires at its threshold and not one below, inside its window and not
outside it, over index rows written at chosen chain times, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ledger_client.risk.thresholds import RiskThresholds
from ledger_client.store.database import Database
from tests.unit.risk_index import (
    DAY,
    HOUR,
    FakeIndex,
    address,
    child,
    document,
    of,
    update,
)

STRANGER = document(500)


@pytest.fixture
def index(database: Database) -> FakeIndex:
    return FakeIndex(database)


def family(index: FakeIndex, n: int, kids: int = 1) -> list[str]:
    """Children ``n*10+1..`` with two parents of their own (documents n*10+1, n*10+2)."""
    parents = [
        (address(n * 10 + 1), document(n * 10 + 1)),
        (address(n * 10 + 2), document(n * 10 + 2)),
    ]
    ids = [child(n * 10 + k) for k in range(1, kids + 1)]
    for child_id in ids:
        index.enrol(child_id, parents)
    return ids


def test_a_companion_with_three_children_not_theirs_within_30_days(
    database: Database, index: FakeIndex
) -> None:
    a, b, c, d = (family(index, n)[0] for n in (1, 2, 3, 4))
    own = family(index, 5)[0]
    companion_of_own = document(51)  # the parent of ``own``
    index.later(DAY).request(a, companion_of_own)
    index.later(DAY).request(b, companion_of_own)
    index.later(DAY).request(own, companion_of_own)  # their own child: not counted
    update(database)
    assert of(database, "companion-unrelated-children") == {}

    index.later(29 * DAY).request(c, companion_of_own)  # 30 days after b, 31 after a
    update(database)
    assert of(database, "companion-unrelated-children") == {}, "a fell out of the window"

    index.request(d, companion_of_own)  # the same second as c
    update(database)
    flag = of(database, "companion-unrelated-children")[companion_of_own]
    assert flag.subject_kind == "companion"
    assert flag.facts["count"] == 3
    assert set(flag.children) == {b, c, d}
    assert flag.crossings == (2, 4, 5)
    assert flag.score == 50
    assert flag.explanation == (
        "This companion travelled with 3 children who are not theirs within 30 days "
        "(3 or more is flagged)."
    )


def test_a_guardian_added_later_counts_from_then_on_not_before(
    database: Database, index: FakeIndex
) -> None:
    a, b, c = (family(index, n)[0] for n in (1, 2, 3))
    index.later(DAY).request(a, STRANGER)
    index.later(DAY).request(b, STRANGER)
    index.later(DAY).add_guardian(c, address(500), STRANGER)
    index.later(DAY).request(c, STRANGER)  # now theirs
    update(database)
    assert of(database, "companion-unrelated-children") == {}
    d = family(index, 4)[0]
    index.later(DAY).request(d, STRANGER)
    update(database)
    assert set(of(database, "companion-unrelated-children")[STRANGER].children) == {a, b, d}


def test_six_exits_within_30_days_and_not_five(database: Database, index: FakeIndex) -> None:
    kid = family(index, 1)[0]
    for _ in range(5):
        index.later(6 * DAY).request(kid, STRANGER)
    update(database)
    assert of(database, "frequent-crossings") == {}
    index.later(7 * DAY).request(kid, STRANGER)  # 31 days after the first: five in a window
    update(database)
    assert of(database, "frequent-crossings") == {}
    index.later(DAY).request(kid, STRANGER, direction="entry")  # entries do not count
    index.later(HOUR).request(kid, STRANGER)
    update(database)
    flag = of(database, "frequent-crossings")[kid]
    assert flag.facts["count"] == 6
    assert len(flag.crossings) == 6
    assert 1 not in flag.crossings
    assert flag.score == 50


def test_a_denial_then_another_border_point_within_12_hours(
    database: Database, index: FakeIndex
) -> None:
    kid = family(index, 1)[0]
    first = index.later(HOUR).request(kid, STRANGER, border="MD-LEUSENI")
    index.later(HOUR).deny(first)
    index.later(HOUR).request(kid, STRANGER, border="MD-LEUSENI")  # same point: not flagged
    index.later(11 * HOUR + 1).request(kid, STRANGER, border="MD-OTACI")  # 12 h + 1 s after
    update(database)
    assert of(database, "denied-then-elsewhere") == {}

    second = index.later(DAY).request(kid, STRANGER, border="MD-OTACI")
    index.later(HOUR).deny(second)
    attempt = index.later(12 * HOUR).request(kid, STRANGER, border="MD-GIURGIULESTI")
    update(database)
    flag = of(database, "denied-then-elsewhere")[kid]
    assert flag.crossings == (second, attempt)
    assert flag.explanation == (
        "A crossing of this child was denied at MD-OTACI, then 1 new exit request followed "
        "at MD-GIURGIULESTI within 12 hours."
    )


def test_a_guardian_added_14_days_before_an_exit_and_not_15(
    database: Database, index: FakeIndex
) -> None:
    early, late = family(index, 1)[0], family(index, 2)[0]
    index.later(DAY).add_guardian(early, address(501), document(501))
    index.add_guardian(late, address(502), document(502))
    index.later(14 * DAY).request(late, STRANGER)
    index.later(1).request(early, STRANGER)  # 14 days and 1 second after
    update(database)
    found = of(database, "guardian-added-before-exit")
    assert set(found) == {late}, "enrolment guardians and older additions do not count"
    assert found[late].score == 50
    assert found[late].facts["days"] == 14

    # The stronger sign: the new guardian travels with the child.
    traveller = family(index, 3)[0]
    index.later(DAY).add_guardian(traveller, address(503), document(503))
    index.later(2 * DAY).request(traveller, document(503))
    update(database)
    flag = of(database, "guardian-added-before-exit")[traveller]
    assert flag.score == 80
    assert flag.explanation.endswith(
        "; the new guardian was the companion. Exit requests concerned: 1."
    )


def test_a_guardian_of_five_unrelated_families(database: Database, index: FakeIndex) -> None:
    many = (address(600), document(600))
    kids = []
    for n in (1, 2, 3, 4):
        kids += family(index, n)
    sibling = child(12)  # the second child of family 1: related to kids[0]
    index.enrol(sibling, [(address(11), document(11)), (address(12), document(12))])
    for kid in [*kids, sibling]:
        index.later(HOUR).add_guardian(kid, *many)
    update(database)
    assert of(database, "guardian-of-many") == {}, "five children, four families"

    fifth = family(index, 5)[0]
    index.later(HOUR).add_guardian(fifth, *many)
    exit_request = index.later(HOUR).request(fifth, many[1])
    update(database)
    flag = of(database, "guardian-of-many")[many[1]]
    assert flag.facts["count"] == 5
    assert flag.facts["children"] == 6
    assert flag.crossings == (exit_request,)

    index.later(HOUR).remove_guardian(fifth, many[0])
    update(database)
    assert of(database, "guardian-of-many") == {}, "back to four families"


def test_an_exit_without_return_after_30_days(database: Database, index: FakeIndex) -> None:
    kid, other = family(index, 1)[0], family(index, 2)[0]
    gone = index.later(HOUR).request(kid, STRANGER)
    index.outcome(gone, kid)
    index.request(other, STRANGER)  # requested, never recorded: not an exit
    update(database)
    index.tick(30 * DAY - 1)
    update(database)
    assert of(database, "exit-without-return") == {}
    index.tick(1)  # nothing new about the child: the sweep finds the deadline
    report = update(database)
    assert report.flags_opened == 1
    flag = of(database, "exit-without-return")[kid]
    assert flag.crossings == (gone,)
    assert "no entry has been requested since" in flag.explanation

    index.later(DAY).request(kid, STRANGER, direction="entry")
    update(database)
    assert of(database, "exit-without-return") == {}, "the child came back"


def test_family_rule_interventions_weigh_three_within_90_days(
    database: Database, index: FakeIndex
) -> None:
    kid, other = family(index, 1)[0], family(index, 2)[0]
    for target in (kid, other):
        index.later(DAY).co_approve(index.request(target, STRANGER))
        index.later(DAY).co_approve(index.request(target, STRANGER))
    index.later(DAY).decide(
        index.request(kid, STRANGER), approved=False, status="pending", kind="protection"
    )
    update(database)
    assert of(database, "family-rule-overridden") == {}, "a protection refusal is not a co-approval"

    index.later(91 * DAY)
    overridden = index.request(other, STRANGER)
    index.override(overridden)  # 2 + the co-approvals 91 days ago: outside the window
    update(database)
    assert of(database, "family-rule-overridden") == {}

    index.later(DAY).co_approve(index.request(other, STRANGER))
    update(database)
    flag = of(database, "family-rule-overridden")[other]
    assert (flag.facts["overrides"], flag.facts["co_approvals"], flag.facts["count"]) == (1, 1, 3)
    assert overridden in flag.crossings


def test_thresholds_move_the_line(database: Database, index: FakeIndex) -> None:
    kid = family(index, 1)[0]
    for _ in range(3):
        index.later(DAY).request(kid, STRANGER)
    update(database)
    assert of(database, "frequent-crossings") == {}
    update(database, RiskThresholds(frequent_crossings=3))  # new thresholds: a rebuild
    assert of(database, "frequent-crossings")[kid].score == 50
    update(database, RiskThresholds(frequent_crossings=2))
    assert of(database, "frequent-crossings")[kid].score == 75
