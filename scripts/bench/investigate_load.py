"""Turns ``investigate_data.World`` into the rows the indexer and the services would write.

Chain rows (``chain_*``, ``index_blocks``, the checkpoint) are those the indexer writes for the
ledger's events; store rows (``children``, ``guardians``, ``crossing_requests``) those the
enrolment and crossing services write, sealed and committed with the real functions. The base
goes in with PostgreSQL's COPY, its indexes and constraints dropped first and rebuilt after
(the usual bulk-load order; the rebuilt ones are those the migrations made); the new crossings
come later as the indexer adds them: rows in higher blocks, then ``refresh_requests``.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, text
from sqlalchemy.orm import Session

from ledger_client import identity
from ledger_client.crypto import MasterKey, seal_json
from ledger_client.identity import ChildPersonalData, CommitmentKey, child_commitment
from ledger_client.indexer.derived import refresh_requests
from ledger_client.indexer.fetch import REORG_WINDOW
from ledger_client.indexer.tables import CHECKPOINTS
from ledger_client.store.models import StaffMember, StaffRole
from scripts.bench.investigate_data import (
    BORDER_POINTS,
    HOUR,
    MINUTE,
    Plan,
    World,
    block_hash,
    block_of,
    seal_companion,
    time_of,
)

LOCATED = ("block_number", "block_hash", "block_time", "tx_hash", "log_index")
COLUMNS: dict[str, tuple[str, ...]] = {
    "chain_children": (*LOCATED, "child_id", "commitment", "registered_policy",
                                 "registered_threshold", "status", "policy", "threshold"),
    "chain_guardian_changes": (*LOCATED, "child_id", "guardian", "change", "document_commitment"),
    "chain_requests": (*LOCATED, "request_id", "child_id", "companion_commitment", "direction",
                                 "border_point", "expires_at", "officer", "status"),
    "chain_decisions": (*LOCATED, "request_id", "kind", "decider", "approved", "counted",
                                  "status"),
    "chain_overrides": (*LOCATED, "request_id", "officer", "court_order_hash"),
    "chain_outcomes": (*LOCATED, "request_id", "child_id", "outcome", "officer"),
    # with migration 0008's keyed look-ups last
    "children": ("child_id", "card_number", "commitment", "name_birth_lookup", "sealed",
                 "status", "policy", "enrolled_by", "enrolled_at", "name_lookup",
                 "birth_lookup"),
    "guardians": ("child_id", "address", "document_commitment", "sealed", "added_at",
                  "name_lookup"),
    "crossing_requests": ("action_key", "request_id", "child_id", "direction", "border_point",
                          "companion_commitment", "companion_sealed", "requested_by", "tx_hash",
                          "requested_at", "companion_name_lookup"),
    "index_blocks": ("number", "hash", "time", "events"),
}  # fmt: skip
Row = tuple[Any, ...]


def keys_of(seed: int) -> tuple[MasterKey, CommitmentKey]:
    """The bench's keys, from its seed: a kept database opens again on the next run."""
    master = hashlib.sha256(f"tutela-bench-master:{seed}".encode()).digest()
    commitment = hashlib.sha256(f"tutela-bench-commitment:{seed}".encode()).digest()
    return MasterKey(master), CommitmentKey(commitment)


class Rows:
    """The rows of one stage, by table; ``locate`` numbers logs within each block."""

    def __init__(self, world: World, per_block: Counter[int]) -> None:
        self.world = world
        self.per_block = per_block
        self.tables: dict[str, list[Row]] = {name: [] for name in COLUMNS}

    def add(self, table: str, row: Row) -> None:
        self.tables[table].append(row)

    def clear(self) -> None:
        for rows in self.tables.values():
            rows.clear()


@dataclass
class Generator:
    """Walks the world's requests in order, writing base rows and keeping the new ones."""

    world: World
    master: MasterKey
    key: CommitmentKey
    staff: dict[str, list[tuple[int, str]]]  # role -> (id, address)
    base_end: int  # the last block of the base index
    new_end: int  # the last block once the new crossings are in
    seal: bool  # False on a rerun over a kept base: only the new rows are built
    rng: random.Random = field(init=False)
    per_block: Counter[int] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.world.seed + 1)
        self.base = Rows(self.world, self.per_block)
        self.new = Rows(self.world, self.per_block)
        self.new_requests: set[int] = set()  # requests whose rows the new events touch

    def stage(self, at: int) -> Rows | None:
        block = block_of(at)
        return self.base if block <= self.base_end else self.new if block <= self.new_end else None

    def locate(self, at: int, tx_hash: str | None = None) -> Row:
        block = block_of(at)
        index = self.per_block[block]
        self.per_block[block] = index + 1
        tx = tx_hash or "0x" + self.rng.randbytes(32).hex()
        return (block, block_hash(self.world.seed, block), time_of(block), tx, index)

    def enrolments(self) -> None:
        """Children with their guardians (one transaction each), then later additions."""
        world, registrars = self.world, self.staff[StaffRole.REGISTRAR]
        by_child: dict[int, list[int]] = {}
        for child, person, _, at_registration in world.guardianships:
            if at_registration:
                by_child.setdefault(child, []).append(person)
        for index, kid in enumerate(world.kids):
            located = self.locate(kid.enrolled_at)
            tx = located[3]
            data = ChildPersonalData(kid.given, kid.family_name, kid.birth, kid.place)
            commitment = "0x" + child_commitment(self.key, data).hex()
            row = (*located, kid.child_id, commitment, "any", 1, "active", "any", 1)
            self.base.add("chain_children", row)
            # Drawn on a rerun too, so that every later draw is the same.
            registrar = self.rng.choice(registrars)[0]
            if self.seal:
                payload = {
                    "given_name": kid.given,
                    "family_name": kid.family_name,
                    "birth_date": kid.birth.isoformat(),
                    "birth_place": kid.place,
                }
                aad = b"children:" + bytes.fromhex(kid.child_id[2:])
                row = (kid.child_id, kid.card, commitment,
                       identity.name_birth_lookup(self.key, kid.given, kid.family_name, kid.birth),
                       seal_json(self.master, payload, associated_data=aad).to_bytes(),
                       "active", "any", registrar, _utc(kid.enrolled_at),
                       identity.child_name_lookup(self.key, kid.given, kid.family_name),
                       identity.birth_date_lookup(self.key, kid.birth))  # fmt: skip
                self.base.add("children", row)
            for person in by_child.get(index, []):
                self._guardian(index, person, kid.enrolled_at, tx)
        for child, person, added, at_registration in world.guardianships:
            if not at_registration:
                self._guardian(child, person, added, None)

    def _guardian(self, child: int, person: int, at: int, tx: str | None) -> None:
        stage = self.stage(at)
        if stage is None:
            return
        world, kid = self.world, self.world.kids[child]
        located = self.locate(at, tx)
        if tx is not None:  # later logs of the registration transaction
            located = (*located[:3], tx, located[4])
        address, commitment = world.addresses[person], world.commitment(self.key, person)
        stage.add("chain_guardian_changes", (*located, kid.child_id, address, "added", commitment))
        if not self.seal and stage is self.base:
            return
        name, document = world.names[person], world.documents[person]
        payload = {"name": name, "document": document,
                   "email": f"g{person}@posta.md", "phone": None}  # fmt: skip
        aad = b"guardians:" + bytes.fromhex(kid.child_id[2:]) + b":" + address.encode()
        sealed = seal_json(self.master, payload, associated_data=aad).to_bytes()
        lookup = identity.guardian_name_lookup(self.key, name)
        stage.add("guardians", (kid.child_id, address, commitment, sealed, _utc(at), lookup))

    def request(self, request_id: int, plan: Plan) -> None:
        """One request's events: opened, decided, overridden, recorded; routed by block."""
        rng, world = self.rng, self.world
        kid = world.kids[plan.child]
        officer_id, officer = rng.choice(self.staff[StaffRole.BORDER_OFFICER])
        guardians = [p for p, added in world.guardians_of(plan.child) if added <= plan.at]
        others = [p for p in guardians if p != plan.companion] or guardians
        exit_ = plan.direction == "exit"
        events: list[tuple[int, str, Row]] = []
        at = plan.at
        status = "pending" if exit_ else "approved"

        def decide(who: int | str, approved: bool, counted: bool | None, then: str) -> None:
            nonlocal at, status
            at += rng.randint(2, 60) * MINUTE
            kind = "guardian" if isinstance(who, int) else "protection"
            decider = world.addresses[who] if isinstance(who, int) else who
            events.append((at, "chain_decisions", (request_id, kind, decider, approved,
                                                   counted, then)))  # fmt: skip
            status = then if then != "pending" else status

        draw, forced = rng.random(), plan.forced
        if not exit_:
            pass  # an entry opens approved: nobody decides
        elif forced == "override" or (not forced and draw < 0.002):
            decide(rng.choice(others), False, True, "denied")
            at += rng.randint(2, 12) * HOUR
            court = "0x" + rng.randbytes(32).hex()
            protection = rng.choice(self.staff[StaffRole.CHILD_PROTECTION])[1]
            events.append((at, "chain_overrides", (request_id, protection, court)))
            status = "overridden"
        elif forced == "deny" or (not forced and draw < 0.035):
            decide(rng.choice(others), False, True, "denied")
        elif not forced and draw < 0.045:
            pass  # nobody answers: the request expires
        elif plan.companion in guardians:  # the family rule sets the companion's approval aside
            if rng.random() < 0.7:
                decide(plan.companion, True, False, "pending")
            if len(guardians) > 1:
                decide(rng.choice(others), True, True, "approved")
            else:
                protection = rng.choice(self.staff[StaffRole.CHILD_PROTECTION])[1]
                decide(protection, True, None, "approved")
        else:
            decide(rng.choice(others), True, True, "approved")
        draw = rng.random()
        outcome: str | None = None
        if status in ("approved", "overridden"):
            outcome = "crossed" if draw < 0.975 else "turned-back" if draw < 0.99 else None
        elif status == "pending" and draw < 0.4:
            outcome = "turned-back"
        if outcome is not None:
            at += rng.randint(10, 240) * MINUTE
            events.append((at, "chain_outcomes", (request_id, kid.child_id, outcome, officer)))

        opened = self.stage(plan.at)
        if opened is None:
            return
        companion = world.commitment(self.key, plan.companion)
        expires = plan.at + (6 * HOUR if exit_ else HOUR)
        located = self.locate(plan.at)
        # The stored status as the request's stage sees it: its events up to the stage's end.
        limit = self.base_end if opened is self.base else self.new_end
        stored = "pending" if exit_ else "approved"
        for when, table, values in events:
            then = "overridden" if table == "chain_overrides" else str(values[-1])
            then = str(values[2]) if table == "chain_outcomes" else then
            if block_of(when) <= limit and then != "pending":
                stored = then
        point = BORDER_POINTS[plan.point]
        opened.add("chain_requests", (*located, request_id, kid.child_id, companion,
                                      plan.direction, point, expires, officer, stored))  # fmt: skip
        if opened is self.new:
            self.new_requests.add(request_id)
        if self.seal or opened is self.new:
            name, document = world.names[plan.companion], world.documents[plan.companion]
            action_key = (
                "crossing-request:"
                + hashlib.sha256(f"{world.seed}:{request_id}".encode()).hexdigest()[:32]
            )
            row: Row = (action_key, request_id, kid.child_id, plan.direction, point, companion,
                        seal_companion(self.master, action_key, name, document), officer_id,
                        located[3], _utc(plan.at),
                        identity.companion_name_lookup(self.key, name))  # fmt: skip
            opened.add("crossing_requests", row)
        for when, table, row in events:
            stage = self.stage(when)
            if stage is not None:
                stage.add(table, self.locate(when) + row)
                if stage is self.new:
                    self.new_requests.add(request_id)

    def blocks(self, stage: Rows, first: int, last: int) -> None:
        """``index_blocks``: every block with events, and the reorganisation window."""
        kept = {b for b in self.per_block if first <= b <= last}
        kept |= set(range(max(first, last - REORG_WINDOW + 1), last + 1))
        for number in sorted(kept):
            stage.add("index_blocks", (number, block_hash(self.world.seed, number),
                                       time_of(number), self.per_block.get(number, 0)))  # fmt: skip


def _utc(at: int) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def copy_rows(connection: Any, table: str, columns: Iterable[str], rows: list[Row]) -> None:
    """COPY ``rows`` into ``table`` through the driver's (psycopg's) connection."""
    if not rows:
        return
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def add_staff(connection: Connection, rng: random.Random) -> dict[str, list[tuple[int, str]]]:
    """Registrars, border officers, child-protection officers and an investigator."""
    from eth_utils.address import to_checksum_address

    counts = {StaffRole.REGISTRAR: 20, StaffRole.BORDER_OFFICER: 300,
              StaffRole.CHILD_PROTECTION: 30, StaffRole.INVESTIGATOR: 5}  # fmt: skip
    now = datetime(2024, 9, 1, tzinfo=UTC)
    rows = [
        {"name": f"{role}-{n}", "role": str(role), "keystore": {},
         "address": to_checksum_address(rng.randbytes(20)), "created_at": now}
        for role, count in counts.items() for n in range(count)
    ]  # fmt: skip
    connection.execute(insert(StaffMember.__table__), rows)  # type: ignore[arg-type]
    return staff_of(connection)


def staff_of(connection: Connection) -> dict[str, list[tuple[int, str]]]:
    staff: dict[str, list[tuple[int, str]]] = {}
    for member_id, role, address in connection.execute(
        text("SELECT id, role, address FROM staff ORDER BY id")
    ):
        staff.setdefault(role, []).append((member_id, address))
    return staff


def checkpoint_insert() -> Any:
    return insert(CHECKPOINTS)


def checkpoint_row(seed: int, last_block: int) -> dict[str, Any]:
    return {
        "registry_address": "0x" + hashlib.sha256(f"{seed}:registry".encode()).hexdigest()[:40],
        "ledger_address": "0x" + hashlib.sha256(f"{seed}:ledger".encode()).hexdigest()[:40],
        "deploy_block": 1, "block_number": last_block, "block_hash": block_hash(seed, last_block),
        "block_time": time_of(last_block), "updated_at": datetime.now(UTC),
    }  # fmt: skip


def drop_indexes(connection: Any, tables: list[str]) -> list[str]:
    """Drops the tables' secondary indexes, unique and foreign keys; returns how to restore."""
    found = connection.execute(
        text("""
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
        FROM pg_constraint
        WHERE (contype = 'u' AND conrelid::regclass::text = ANY(:t))
           OR (contype = 'f' AND (conrelid::regclass::text = ANY(:t)
                                  OR confrelid::regclass::text = ANY(:t)))
        ORDER BY contype"""),
        {"t": tables},
    ).all()
    indexes = connection.execute(
        text("""
        SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename = ANY(:t)
          AND indexname NOT IN (SELECT conname FROM pg_constraint)"""),
        {"t": tables},
    ).all()
    for table, name, _, _ in found:  # foreign keys ('f') sort before unique keys ('u')
        connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        connection.execute(text(f'DROP INDEX "{name}"'))
    restore = [definition for _, definition in indexes]
    restore += [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d, k in found if k == "u"]
    restore += [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d, k in found if k == "f"]
    return restore


def add_new_crossings(session: Session, generator: Generator) -> int:
    """The new stage's rows, as the indexer and the services add them; returns the row count.

    In the caller's transaction: the bench rolls it back after timing, so that each run (and
    each rerun over a kept database) starts from the same base.
    """
    driver = session.connection().connection.driver_connection
    count = 0
    for table, rows in generator.new.tables.items():
        copy_rows(driver, table, COLUMNS[table], rows)
        count += len(rows)
    refresh_requests(session, generator.new_requests)
    last = generator.new_end
    session.execute(
        CHECKPOINTS.update().values(
            block_number=last, block_hash=block_hash(generator.world.seed, last),
            block_time=time_of(last), updated_at=datetime.now(UTC),
        )
    )  # fmt: skip
    return count
