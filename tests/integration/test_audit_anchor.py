"""The audit log anchored on a real embedded chain: what an edit, a cut and a rewrite look like.

Each test gets a data folder of its own, closed between steps as an operator's would be, so
that ``tutela audit verify`` opens it like a command run later. Tampering is done in SQL, as
someone with the database's password would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ledger_client.errors import ConfigurationError
from ledger_client.outbox.models import OutboxItem
from ledger_client.services import staff
from ledger_client.services.audit import (
    Actor,
    _entry_hash,
    anchor_audit_head,
    audit_status,
    record_audit,
    verify_audit_log,
)
from ledger_client.services.audit_anchor import (
    anchor_if_grown,
    audit_summary,
    ensure_audit_anchor,
)
from ledger_client.services.context import Tutela, open_tutela
from ledger_client.services.setup import initialise
from ledger_client.settings import Settings
from ledger_client.store.database import Database
from ledger_client.store.models import Deployment, StaffMember, StaffRole
from ledger_client.store.portal_models import AuditEntry
from ledger_client.store.times import as_utc
from tests.conftest import make_settings
from tests.integration.test_indexer_cli import tutela as cli

OFFICER = Actor("staff", 7, "officer", "10.0.0.7")


@pytest.fixture
def folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, chain_url: str | None
) -> Settings:
    """A folder on each store (SQLite, PostgreSQL) and each chain (embedded, anvil)."""
    monkeypatch.setenv("TUTELA_DATABASE_URL", database_url)
    settings = make_settings(tmp_path / "data", chain_url, monkeypatch)
    initialise(settings)
    return settings


@contextmanager
def opened(settings: Settings) -> Iterator[Tutela]:
    with open_tutela(settings) as tutela:
        yield tutela


@contextmanager
def store(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    try:
        yield database
    finally:
        database.dispose()


def write(tutela: Tutela, count: int) -> None:
    with tutela.database.transaction() as session:
        for n in range(count):
            record_audit(
                session,
                OFFICER,
                "read-child",
                f"card-{n}",
                {"n": n},
                private={"reason": f"case note {n}"},
                master_key=tutela.master_key,
            )


def entry_hashes(tutela: Tutela) -> list[str]:
    with tutela.database.reading() as session:
        return list(session.scalars(select(AuditEntry.entry_hash).order_by(AuditEntry.id)))


def anchor_events(tutela: Tutela) -> int:
    assert tutela.audit_anchor is not None
    return len(tutela.audit_anchor.events("AuditAnchored", from_block=0))


def test_anchored_entries_verify_and_later_ones_count_as_unanchored(folder: Settings) -> None:
    with opened(folder) as tutela:
        write(tutela, 3)
        anchored = anchor_audit_head(tutela)
        assert anchored is not None
        hashes = entry_hashes(tutela)
        assert (anchored.entry_count, anchored.head) == (3, hashes[-1])
        assert tutela.audit_anchor is not None
        on_chain = tutela.audit_anchor.latest()
        assert (on_chain.entry_count, on_chain.head.hex()) == (3, hashes[-1])

        status = audit_status(tutela)
        assert status.holds
        assert (status.entries, status.anchors_checked, status.unanchored) == (3, 1, 0)
        assert status.last_anchor == anchored

        write(tutela, 2)
        status = audit_status(tutela)
        assert status.holds
        assert (status.entries, status.anchors_checked, status.unanchored) == (5, 1, 2)

        second = anchor_audit_head(tutela)
        assert second is not None
        assert (second.entry_count, second.head) == (5, entry_hashes(tutela)[-1])
        status = audit_status(tutela)
        assert (status.anchors_checked, status.unanchored, status.last_anchor) == (2, 0, second)


def test_anchoring_with_nothing_new_sends_nothing(folder: Settings) -> None:
    with opened(folder) as tutela:
        assert anchor_audit_head(tutela) is None  # an empty log
        write(tutela, 2)
        assert anchor_audit_head(tutela) is not None
        height = tutela.w3.eth.block_number
        assert anchor_audit_head(tutela) is None
        assert anchor_if_grown(tutela) is None
        assert tutela.w3.eth.block_number == height
        assert anchor_events(tutela) == 1
        with tutela.database.reading() as session:
            sent = session.scalar(
                select(func.count(OutboxItem.id)).where(OutboxItem.purpose == "audit-anchor")
            )
        assert sent == 1


def test_an_edited_entry_fails_verify_at_that_entry(
    folder: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with opened(folder) as tutela:
        write(tutela, 4)
        anchor_audit_head(tutela)
    status, out = cli(folder, monkeypatch, capsys, "audit", "verify")
    assert status == 0, out
    assert out.splitlines()[0] == "4 entries; 1 anchor checked"
    assert out.splitlines()[-1] == "the audit log holds"

    with store(folder) as database, database.transaction() as session:
        second = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()[1]
        session.execute(update(AuditEntry).where(AuditEntry.id == second).values(detail={"n": 9}))

    status, out = cli(folder, monkeypatch, capsys, "audit", "verify")
    assert status == 1
    assert f"BROKEN: entry {second} was edited or removed (its hash differs)" in out
    status, out = cli(folder, monkeypatch, capsys, "audit", "verify", "--json")
    assert status == 1
    answer = json.loads(out)
    assert (answer["holds"], answer["broken_at"], answer["anchor_mismatch"]) == (
        False,
        second,
        None,
    )


def test_deleting_the_newest_entries_shows_on_the_anchor(
    folder: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with opened(folder) as tutela:
        write(tutela, 5)
        anchored = anchor_audit_head(tutela)
        assert anchored is not None
        with tutela.database.transaction() as session:
            newest = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()[3:]
            session.execute(delete(AuditEntry).where(AuditEntry.id.in_(newest)))
            # The chain of hashes still holds: only its end is gone.
            assert verify_audit_log(session) is None
        status = audit_status(tutela)
        assert status.broken_at is None
        assert status.anchor_mismatch == (
            f"the ledger anchored 5 entries (block {anchored.block}, tx {anchored.tx_hash}), "
            "but the log holds 3: entries were deleted"
        )
    status_code, out = cli(folder, monkeypatch, capsys, "audit", "verify", "--json")
    assert status_code == 1
    assert json.loads(out)["anchor_mismatch"] == status.anchor_mismatch


def test_a_chain_rewritten_from_scratch_shows_on_the_anchor(folder: Settings) -> None:
    with opened(folder) as tutela:
        write(tutela, 3)
        anchored = anchor_audit_head(tutela)
        assert anchored is not None
        with tutela.database.transaction() as session:
            _rewrite(session, new_detail_of_first={"n": "nothing to see"})
            assert verify_audit_log(session) is None
        status = audit_status(tutela)
        assert status.broken_at is None
        third = entry_hashes(tutela)[2]
        assert status.anchor_mismatch is not None
        assert status.anchor_mismatch.startswith(
            f"entry 3 (id 3) hashes to {third[:16]}…, but the ledger anchored "
            f"{anchored.head[:16]}… for it"
        )
        assert status.anchor_mismatch.endswith("the log was rewritten")


def _rewrite(session: Session, new_detail_of_first: dict[str, object]) -> None:
    """Edits the first entry and recomputes every hash after it, as a careful forger would."""
    previous = "0" * 64
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        if entry.id == 1:
            entry.detail = new_detail_of_first
        actor = Actor(entry.actor_kind, entry.actor_id, entry.actor_name, entry.address)
        entry.previous_hash = previous
        entry.entry_hash = _entry_hash(
            previous,
            as_utc(entry.at),
            actor,
            entry.action,
            entry.subject,
            entry.detail,
            entry.sealed,
        )
        previous = entry.entry_hash
    session.flush()


def test_an_older_deployment_gets_its_audit_anchor(folder: Settings) -> None:
    with opened(folder) as tutela:
        original = tutela.audit_anchor
        assert original is not None
        write(tutela, 2)
        # As a deployment made before the audit anchor existed: no address, no anchorer.
        with tutela.database.transaction() as session:
            session.execute(update(Deployment).values(audit_address=None))
            session.execute(delete(StaffMember).where(StaffMember.role == StaffRole.ANCHORER))
    with opened(folder) as tutela:
        assert tutela.audit_anchor is None
        with pytest.raises(ConfigurationError, match="run 'tutela audit anchor'"):
            anchor_audit_head(tutela)
        assert anchor_if_grown(tutela) is None
        status = audit_status(tutela)
        assert (status.anchors_checked, status.unanchored, status.holds) == (0, 2, True)

    address = ensure_audit_anchor(folder)
    assert address is not None
    assert address != original.address
    with opened(folder) as tutela:
        height = tutela.w3.eth.block_number
    assert ensure_audit_anchor(folder) == address  # once only
    with opened(folder) as tutela:
        assert tutela.w3.eth.block_number == height
        assert tutela.audit_anchor is not None
        assert tutela.audit_anchor.address == address
        with tutela.database.reading() as session:
            (anchorer,) = session.scalars(
                select(StaffMember).where(StaffMember.role == StaffRole.ANCHORER)
            ).all()
        assert tutela.audit_anchor.has_role("ANCHOR_ROLE", anchorer.address)
        anchored = anchor_audit_head(tutela)
        assert anchored is not None
        assert anchored.entry_count == 2
        assert audit_status(tutela).holds


def test_the_cli_anchors_once_and_an_auditor_reads_the_log(
    folder: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with opened(folder) as tutela:
        write(tutela, 2)
        staff.add_staff(tutela, "Ana Auditor", "auditor")
    status, out = cli(folder, monkeypatch, capsys, "audit", "anchor", "--json")
    assert status == 0, out
    answer = json.loads(out)
    assert (answer["anchored"], answer["anchor"]["entry_count"]) == (True, 2)
    status, out = cli(folder, monkeypatch, capsys, "audit", "anchor")
    assert status == 0, out
    assert out.startswith("nothing new to anchor: last anchor: 2 entries, block ")

    status, out = cli(folder, monkeypatch, capsys, "audit", "log", "--case", "card-1", "--json")
    assert status == 0, out
    [entry] = json.loads(out)["entries"]
    assert (entry["subject"], entry["detail"], entry["private"]) == (
        "card-1",
        {"n": 1},
        {"reason": "case note 1"},
    )
    # The read is itself in the log, with its filters sealed, and the log still holds.
    status, out = cli(folder, monkeypatch, capsys, "audit", "log", "--limit", "1", "--json")
    [read] = json.loads(out)["entries"]
    assert (read["actor"], read["action"], read["subject"]) == (
        "staff:Ana Auditor",
        "audit-read",
        "audit-log",
    )
    assert (read["detail"], read["private"]) == (
        {"filters": ["case"], "shown": 1},
        {"case": "card-1"},
    )
    status, out = cli(folder, monkeypatch, capsys, "audit", "verify", "--json")
    assert status == 0, out
    assert json.loads(out)["unanchored"] == 2


def test_the_summary_checks_the_newest_anchor_without_walking_the_log(folder: Settings) -> None:
    with opened(folder) as tutela:
        assert audit_summary(tutela).last_anchor is None
        write(tutela, 4)
        anchored = anchor_audit_head(tutela)
        assert anchored is not None
        write(tutela, 1)
        summary = audit_summary(tutela)
        assert (summary.entries, summary.unanchored, summary.anchor_problem) == (5, 1, None)
        assert summary.last_anchor == anchored
        with tutela.database.transaction() as session:
            session.execute(delete(AuditEntry).where(AuditEntry.id >= 4))
        assert audit_summary(tutela).anchor_problem == ("missing", 4)
        write(tutela, 2)  # the log grows again past the anchor, with other entries
        assert audit_summary(tutela).anchor_problem == ("differs", 4)
