"""A flag as an investigator handles it: reviewed with a sealed, audited note; reopened by
new crossings; listed by child; and the thresholds read from the environment."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from ledger_client.crypto import MasterKey
from ledger_client.errors import ConfigurationError, InputError, NotFoundError
from ledger_client.risk.flags import get_flag, review_flag, review_notes
from ledger_client.risk.models import RiskReviewNote
from ledger_client.risk.thresholds import RiskThresholds
from ledger_client.services.audit import Actor, verify_audit_log
from ledger_client.settings import load_settings
from ledger_client.store.database import Database
from ledger_client.store.portal_models import AuditEntry
from tests.unit.risk_index import DAY, FakeIndex, address, child, document, flags, of, update

INVESTIGATOR = Actor("staff", 7, "inspector", "127.0.0.1")
NOTE = "Checked with the Leuseni post: a school choir, Maria Popescu's teacher travelling."


@pytest.fixture
def key() -> MasterKey:
    return MasterKey.generate()


def frequent(index: FakeIndex, database: Database, n: int = 1) -> str:
    """A child with six exits in six days, flagged."""
    kid = child(n)
    index.enrol(kid, [(address(n), document(n))])
    for _ in range(6):
        index.later(DAY).request(kid, document(999))
    update(database)
    return kid


def review(database: Database, flag_id: int, key: MasterKey, note: str = NOTE) -> None:
    with database.transaction() as session:
        review_flag(session, flag_id, INVESTIGATOR, note, key)


def test_a_review_seals_its_note_and_is_audited(database: Database, key: MasterKey) -> None:
    index = FakeIndex(database)
    kid = frequent(index, database)
    flag = of(database, "frequent-crossings")[kid]
    review(database, flag.id, key)
    with database.reading() as session:
        reviewed = get_flag(session, flag.id)
        raw = session.scalars(select(RiskReviewNote.note_sealed)).one()
        entry = session.scalars(select(AuditEntry)).one()
        notes = review_notes(session, flag.id, key)
        assert verify_audit_log(session) is None
    assert (reviewed.status, reviewed.reviewed_by) == ("reviewed", "inspector")
    assert reviewed.reviewed_at is not None
    assert b"Popescu" not in raw
    assert b"choir" not in raw
    assert [(n.by, n.note) for n in notes] == [("inspector", NOTE)]
    assert (entry.action, entry.subject, entry.actor_name) == (
        "flag-reviewed",
        f"flag:{flag.id}",
        "inspector",
    )
    assert entry.detail == {
        "flag": flag.id,
        "indicator": "frequent-crossings",
        "note_sha256": hashlib.sha256(NOTE.encode()).hexdigest(),
    }
    assert "Popescu" not in str(entry.detail)


@pytest.mark.parametrize("note", ["", "   ", "x" * 2001])
def test_an_empty_or_overlong_note_is_refused_and_changes_nothing(
    database: Database, key: MasterKey, note: str
) -> None:
    index = FakeIndex(database)
    kid = frequent(index, database)
    flag = of(database, "frequent-crossings")[kid]
    with pytest.raises(InputError, match="note"):
        review(database, flag.id, key, note)
    with database.reading() as session:
        assert get_flag(session, flag.id).status == "open"
        assert session.scalars(select(AuditEntry)).all() == []
        assert session.scalars(select(RiskReviewNote)).all() == []


def test_an_unknown_flag_is_not_found(database: Database, key: MasterKey) -> None:
    with pytest.raises(NotFoundError, match="no risk flag 42"):
        review(database, 42, key)
    with database.reading() as session, pytest.raises(NotFoundError):
        get_flag(session, 42)


def test_a_reviewed_flag_reopens_on_a_new_crossing_and_keeps_its_notes(
    database: Database, key: MasterKey
) -> None:
    index = FakeIndex(database)
    kid = frequent(index, database)
    flag = of(database, "frequent-crossings")[kid]
    review(database, flag.id, key)
    index.later(DAY).request(kid, document(999), direction="entry")  # not an exit: still reviewed
    update(database)
    assert of(database, "frequent-crossings")[kid].status == "reviewed"
    assert flags(database, open_only=True) == []

    index.later(DAY).request(kid, document(999))
    report = update(database)
    reopened = of(database, "frequent-crossings")[kid]
    assert report.flags_updated == 1
    assert (reopened.id, reopened.status, reopened.reviewed_by) == (flag.id, "open", "inspector")
    assert len(reopened.crossings) == 7
    assert [f.id for f in flags(database, open_only=True)] == [flag.id]
    review(database, flag.id, key, "Second look: same choir.")
    with database.reading() as session:
        assert [n.note for n in review_notes(session, flag.id, key)] == [
            NOTE,
            "Second look: same choir.",
        ]


def test_flags_are_listed_by_child_and_by_subject(database: Database) -> None:
    index = FakeIndex(database)
    one, two, three = (frequent(index, database, n) for n in (1, 2, 3))
    companion = document(999)  # travelled with the three children, none of them theirs
    assert {f.subject for f in flags(database, child_id=one)} == {one, companion}
    assert {f.subject for f in flags(database, child_id=three)} == {three, companion}
    assert [f.indicator for f in flags(database, subject=companion)] == [
        "companion-unrelated-children"
    ]
    assert [f.subject for f in flags(database, subject=two)] == [two]
    assert len(flags(database, limit=2)) == 2


def test_thresholds_come_from_the_environment() -> None:
    assert RiskThresholds.from_environment({}) == RiskThresholds()
    custom = RiskThresholds.from_environment(
        {"TUTELA_RISK_COMPANION_CHILDREN": "5", "TUTELA_RISK_NO_RETURN_DAYS": " 45 "}
    )
    assert (custom.companion_children, custom.no_return_days, custom.frequent_crossings) == (
        5,
        45,
        6,
    )
    settings = load_settings(environ={"TUTELA_RISK_INTERVENTIONS": "4"})
    assert settings.risk.interventions == 4
    for bad in ("three", "0", "-2", "1.5"):
        with pytest.raises(ConfigurationError, match="TUTELA_RISK_FREQUENT_CROSSINGS"):
            RiskThresholds.from_environment({"TUTELA_RISK_FREQUENT_CROSSINGS": bad})
