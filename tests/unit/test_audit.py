"""The audit log in the store: hashes, sealed private parts, the auditor's page.

Every test runs on SQLite and on a throwaway PostgreSQL cluster (the ``database_url`` fixture).
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, insert, select, update

from ledger_client import store
from ledger_client.crypto import MasterKey
from ledger_client.errors import CryptoError, InputError
from ledger_client.services.audit import (
    GENESIS,
    Actor,
    audit_page,
    open_private,
    record_audit,
    verify_audit_log,
)
from ledger_client.store.database import Database
from ledger_client.store.portal_models import AuditEntry

MIGRATIONS = Path(store.__file__).parent / "migrations"
MOMENT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
OFFICER = Actor("staff", 3, "Ion Officer", "10.0.0.3")
INVESTIGATOR = Actor("staff", 4, "Ina Investigator", "10.0.0.4")
AUDITOR = Actor("staff", 5, "Ana Auditor", "10.0.0.5")
REASON = "Suspected trafficking, report 2025/17 of the border police"


@pytest.fixture
def master_key() -> MasterKey:
    return MasterKey.generate()


def entries(database: Database) -> list[AuditEntry]:
    with database.reading() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def count(database: Database) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count(AuditEntry.id))) or 0)


def write_mixed(database: Database, master_key: MasterKey) -> None:
    """A read without a private part, a search with one, then another read."""
    with database.transaction() as session:
        record_audit(session, OFFICER, "read-child", "ABC123", {"card": "ABC123"}, now=MOMENT)
        record_audit(
            session,
            INVESTIGATOR,
            "investigate-search",
            "CASE-1",
            {"case": "CASE-1", "criteria": ["child_name"]},
            private={"reason": REASON, "child_name": "Maria Popescu"},
            master_key=master_key,
            now=MOMENT + timedelta(seconds=1),
        )
        record_audit(
            session, OFFICER, "read-child", "XYZ789", None, now=MOMENT + timedelta(seconds=2)
        )


def _hash_as_before_0009(previous: str, entry: AuditEntry) -> str:
    """The entry hash exactly as it was computed before private parts existed."""
    canonical = json.dumps(
        {
            "previous": previous,
            "at": entry.at.astimezone(UTC).replace(microsecond=0).isoformat()
            if entry.at.tzinfo
            else entry.at.replace(tzinfo=UTC, microsecond=0).isoformat(),
            "actor": [entry.actor_kind, entry.actor_id, entry.actor_name, entry.address],
            "action": entry.action,
            "subject": entry.subject,
            "detail": entry.detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_entries_without_a_private_part_hash_as_they_did_before(
    database: Database, master_key: MasterKey
) -> None:
    write_mixed(database, master_key)
    first, search, third = entries(database)
    assert (first.sealed, third.sealed) == (None, None)
    assert first.entry_hash == _hash_as_before_0009(GENESIS, first)
    assert third.entry_hash == _hash_as_before_0009(search.entry_hash, third)
    # The search's hash covers its sealed part, so it is not the old body's hash.
    assert search.entry_hash != _hash_as_before_0009(first.entry_hash, search)
    with database.reading() as session:
        assert verify_audit_log(session) is None


def test_entries_written_before_0009_still_verify_after_it(
    database_url: str, tmp_path: Path
) -> None:
    database = Database(database_url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0008_investigation_lookups")
        previous = GENESIS
        with database.engine.begin() as connection:
            for n in range(3):
                at = MOMENT + timedelta(minutes=n)
                row: dict[str, object] = {
                    "at": at,
                    "actor_kind": "staff",
                    "actor_id": 3,
                    "actor_name": "Ion Officer",
                    "action": "read-child",
                    "subject": f"card-{n}",
                    "detail": {"n": n},
                    "address": "10.0.0.3",
                    "previous_hash": previous,
                }
                row["entry_hash"] = _hash_as_before_0009(previous, AuditEntry(**row))
                # Only the columns of 0008: the model's ``sealed`` does not exist there yet.
                connection.execute(insert(AuditEntry.__table__).values(row))
                previous = str(row["entry_hash"])
        database.migrate()
        with database.transaction() as session:
            assert verify_audit_log(session) is None
            record_audit(session, OFFICER, "read-child", "card-3", {"n": 3})
            assert verify_audit_log(session) is None
    finally:
        database.dispose()


def test_a_private_part_is_sealed_and_opens_only_with_the_key(
    database: Database, master_key: MasterKey
) -> None:
    write_mixed(database, master_key)
    search = entries(database)[1]
    assert search.sealed is not None
    for clear in (REASON, "Maria Popescu", "Popescu"):
        assert clear.encode() not in search.sealed
        assert clear not in json.dumps(search.detail)
    assert open_private(search, master_key) == {"reason": REASON, "child_name": "Maria Popescu"}
    with pytest.raises(CryptoError):
        open_private(search, MasterKey.generate())


def test_the_hash_covers_the_sealed_bytes(database: Database, master_key: MasterKey) -> None:
    write_mixed(database, master_key)
    with database.transaction() as session:
        record_audit(
            session,
            INVESTIGATOR,
            "investigate-search",
            "CASE-2",
            {"case": "CASE-2"},
            private={"reason": "another reason, long enough"},
            master_key=master_key,
        )
    search, other = entries(database)[1], entries(database)[3]
    assert search.sealed is not None
    assert other.sealed is not None
    # A private part moved onto another entry: the hash shows it, and it does not open there.
    with database.transaction() as session:
        session.execute(
            update(AuditEntry).where(AuditEntry.id == search.id).values(sealed=other.sealed)
        )
        assert verify_audit_log(session) == search.id
        moved = session.get(AuditEntry, search.id)
        assert moved is not None
        with pytest.raises(CryptoError):
            open_private(moved, master_key)
        # Removed: shown too.
        session.execute(update(AuditEntry).where(AuditEntry.id == search.id).values(sealed=None))
        assert verify_audit_log(session) == search.id


def test_a_private_part_without_the_master_key_is_refused(database: Database) -> None:
    with database.transaction() as session, pytest.raises(InputError, match="master key"):
        record_audit(session, INVESTIGATOR, "investigate-search", "CASE-1", private={"a": "b"})
    assert count(database) == 0


def test_the_auditors_page_filters_opens_and_is_itself_audited(
    database: Database, master_key: MasterKey
) -> None:
    write_mixed(database, master_key)
    with database.transaction() as session:
        page = audit_page(session, master_key, reader=AUDITOR)
    assert [(e.action, e.subject) for e in page] == [
        ("read-child", "XYZ789"),
        ("investigate-search", "CASE-1"),
        ("read-child", "ABC123"),
    ]
    assert [e.private for e in page] == [
        {},
        {"reason": REASON, "child_name": "Maria Popescu"},
        {},
    ]

    with database.transaction() as session:
        by_case = audit_page(session, master_key, reader=AUDITOR, case="CASE-1")
        by_name = audit_page(session, master_key, reader=AUDITOR, actor="Ina Investigator")
        by_kind = audit_page(session, master_key, reader=AUDITOR, actor="staff:Ina Investigator")
        by_action = audit_page(session, master_key, reader=AUDITOR, action="read-child", limit=1)
    assert [e.subject for e in by_case] == ["CASE-1"]
    assert [e.subject for e in by_name] == ["CASE-1"]
    assert [e.subject for e in by_kind] == ["CASE-1"]
    assert [e.subject for e in by_action] == ["XYZ789"]

    reads = [e for e in entries(database) if e.action == "audit-read"]
    assert len(reads) == 5
    assert {(e.actor_name, e.subject) for e in reads} == {("Ana Auditor", "audit-log")}
    assert reads[-1].detail == {"filters": ["action"], "shown": 1}
    assert open_private(reads[-1], master_key) == {"action": "read-child"}
    # A filter naming a person is sealed, never in the clear detail.
    assert "Ina Investigator" not in json.dumps(reads[2].detail)
    assert open_private(reads[2], master_key) == {"actor": "Ina Investigator"}
    with database.reading() as session:
        assert verify_audit_log(session) is None


@pytest.mark.parametrize("limit", [0, 1001])
def test_a_page_size_out_of_range_is_refused_and_not_recorded(
    database: Database, master_key: MasterKey, limit: int
) -> None:
    with database.transaction() as session, pytest.raises(InputError, match="1 to 1000"):
        audit_page(session, master_key, reader=AUDITOR, limit=limit)
    assert count(database) == 0


def test_concurrent_writers_never_fork_the_chain(database: Database) -> None:
    """Writers in separate connections at once: each entry chains onto the one before it."""
    writers, each = 4, 15
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        start.wait()
        for i in range(each):
            with database.transaction() as session:
                record_audit(session, OFFICER, "read-child", f"w{n}-{i}", {"i": i})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    written = entries(database)
    assert len(written) == writers * each
    assert len({e.previous_hash for e in written}) == writers * each
    with database.reading() as session:
        assert verify_audit_log(session) is None
