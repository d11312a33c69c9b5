"""The derived columns, recomputed from the event rows whenever those change.

A request's status and a child's current status, policy and successor follow from the events
after its creation, in chain order. Recomputing them from the rows (rather than applying each
event to the stored value) makes a rollback simple: delete the removed events, recompute.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ledger_client.contracts.types import ChildStatus, RequestStatus
from ledger_client.indexer.tables import (
    ChainChild,
    ChainDecision,
    ChainOutcome,
    ChainOverride,
    ChainPolicyChange,
    ChainRequest,
    ChainRevocation,
    ChainSupersession,
    event_table,
)

CHUNK = 500  # ids in one IN (...): well under SQLite's and PostgreSQL's parameter limits
T = TypeVar("T")


def refresh_requests(session: Session, request_ids: Iterable[int]) -> int:
    """Recomputes the stored status of these requests; returns how many rows were updated."""
    updates: list[dict[str, Any]] = []
    for part in chunks(sorted(set(request_ids))):
        opened = {
            request_id: direction
            for request_id, direction in session.execute(
                select(ChainRequest.request_id, ChainRequest.direction).where(
                    ChainRequest.request_id.in_(part)
                )
            )
        }
        later: list[tuple[int, int, int, str]] = []
        for model, status_of in (
            (ChainDecision, ChainDecision.status),
            (ChainOverride, None),
            (ChainOutcome, ChainOutcome.outcome),
        ):
            columns = [model.request_id, model.block_number, model.log_index]
            query = select(*columns, status_of) if status_of is not None else select(*columns)
            for row in session.execute(query.where(model.request_id.in_(part))):
                status = str(RequestStatus.OVERRIDDEN) if status_of is None else str(row[3])
                later.append((row[1], row[2], row[0], status))
        statuses = {
            rid: str(RequestStatus.APPROVED if d == "entry" else RequestStatus.PENDING)
            for rid, d in opened.items()
        }
        for _, _, rid, status in sorted(later):
            # A decision that leaves the request pending changes nothing; every other event
            # names the status the contract stored.
            if rid in statuses and status != RequestStatus.PENDING:
                statuses[rid] = status
        updates += [{"rid": rid, "new_status": s} for rid, s in statuses.items()]
    if updates:
        table = event_table(ChainRequest)
        session.execute(
            update(table)
            .where(table.c.request_id == bindparam("rid"))
            .values(status=bindparam("new_status")),
            updates,
        )
    return len(updates)


def refresh_children(session: Session, child_ids: Iterable[str]) -> int:
    """Recomputes the current status, policy and successor of these children."""
    updates: list[dict[str, Any]] = []
    for part in chunks(sorted(set(child_ids))):
        current: dict[str, dict[str, Any]] = {
            child_id: {
                "cid": child_id,
                "new_status": str(ChildStatus.ACTIVE),
                "new_policy": policy,
                "new_threshold": threshold,
                "new_successor": None,
            }
            for child_id, policy, threshold in session.execute(
                select(
                    ChainChild.child_id,
                    ChainChild.registered_policy,
                    ChainChild.registered_threshold,
                ).where(ChainChild.child_id.in_(part))
            )
        }
        later: list[tuple[int, int, str, dict[str, Any]]] = []
        for cid, block, index, policy, threshold in session.execute(
            select(
                ChainPolicyChange.child_id,
                ChainPolicyChange.block_number,
                ChainPolicyChange.log_index,
                ChainPolicyChange.policy,
                ChainPolicyChange.threshold,
            ).where(ChainPolicyChange.child_id.in_(part))
        ):
            later.append((block, index, cid, {"new_policy": policy, "new_threshold": threshold}))
        for cid, block, index in session.execute(
            select(
                ChainRevocation.child_id, ChainRevocation.block_number, ChainRevocation.log_index
            ).where(ChainRevocation.child_id.in_(part))
        ):
            later.append((block, index, cid, {"new_status": str(ChildStatus.REVOKED)}))
        for cid, block, index, successor in session.execute(
            select(
                ChainSupersession.child_id,
                ChainSupersession.block_number,
                ChainSupersession.log_index,
                ChainSupersession.successor_id,
            ).where(ChainSupersession.child_id.in_(part))
        ):
            change = {"new_status": str(ChildStatus.SUPERSEDED), "new_successor": successor}
            later.append((block, index, cid, change))
        for _, _, cid, change in sorted(later, key=lambda item: item[:3]):
            if cid in current:
                current[cid].update(change)
        updates += current.values()
    if updates:
        table = event_table(ChainChild)
        session.execute(
            update(table)
            .where(table.c.child_id == bindparam("cid"))
            .values(
                status=bindparam("new_status"),
                policy=bindparam("new_policy"),
                threshold=bindparam("new_threshold"),
                successor_id=bindparam("new_successor"),
            ),
            updates,
        )
    return len(updates)


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
