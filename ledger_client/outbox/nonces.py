"""Nonces handed out by the store, so that many processes can send from one account.

The node's own count cannot be trusted for this: two processes that ask it at once get the
same number, and a node that lost its last blocks answers a number Tutela has used already.
The store's counter is taken under a row lock (``FOR UPDATE`` on PostgreSQL; SQLite
transactions begin ``IMMEDIATE``) and never goes below what the node reports, so an account
also used outside Tutela heals itself.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ledger_client.outbox.models import AccountNonce


def allocate_nonces(
    session: Session, chain_id: int, address: str, count: int, chain_count: int
) -> int:
    """Reserves ``count`` consecutive nonces and returns the first.

    ``chain_count`` is the node's pending transaction count, read before the transaction
    began so that no lock is held during a network call.
    """
    _ensure_row(session, chain_id, address, chain_count)
    row = session.scalar(
        select(AccountNonce)
        .where(AccountNonce.chain_id == chain_id, AccountNonce.address == address)
        .with_for_update()
    )
    assert row is not None  # inserted above when missing
    first = max(row.next_nonce, chain_count)
    row.next_nonce = first + count
    session.flush()
    return first


def _ensure_row(session: Session, chain_id: int, address: str, chain_count: int) -> None:
    values = {"chain_id": chain_id, "address": address, "next_nonce": chain_count}
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(AccountNonce).values(values).on_conflict_do_nothing())
