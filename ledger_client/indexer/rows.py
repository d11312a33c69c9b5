"""Which table each event goes to, and the row it becomes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table

from ledger_client.contracts.types import (
    Direction,
    Outcome,
    PolicyKind,
    RequestStatus,
)
from ledger_client.contracts.wrappers import decode_border_point
from ledger_client.indexer.events import DecodedEvent
from ledger_client.indexer.tables import (
    ChainAccessEvent,
    ChainChild,
    ChainDecision,
    ChainGuardianChange,
    ChainOutcome,
    ChainOverride,
    ChainPolicyChange,
    ChainRequest,
    ChainRevocation,
    ChainSupersession,
    event_table,
)

Row = dict[str, Any]


def _child(a: dict[str, Any]) -> Row:
    policy = str(PolicyKind.from_ordinal(a["policyKind"]))
    return {
        "child_id": a["childId"],
        "commitment": a["commitment"],
        "registered_policy": policy,
        "registered_threshold": a["threshold"],
        # The current state starts as registered; later events update it (derived.py).
        "status": "active",
        "policy": policy,
        "threshold": a["threshold"],
        "successor_id": None,
    }


def _guardian_added(a: dict[str, Any]) -> Row:
    return {
        "child_id": a["childId"],
        "guardian": a["guardian"],
        "change": "added",
        "document_commitment": a["documentCommitment"],
    }


def _guardian_removed(a: dict[str, Any]) -> Row:
    return {
        "child_id": a["childId"],
        "guardian": a["guardian"],
        "change": "removed",
        "document_commitment": None,
    }


def _policy(a: dict[str, Any]) -> Row:
    return {
        "child_id": a["childId"],
        "policy": str(PolicyKind.from_ordinal(a["policyKind"])),
        "threshold": a["threshold"],
    }


def _request(a: dict[str, Any]) -> Row:
    direction = Direction.from_ordinal(a["direction"])
    # An entry needs no guardian: the contract opens it approved.
    status = RequestStatus.APPROVED if direction is Direction.ENTRY else RequestStatus.PENDING
    return {
        "request_id": a["requestId"],
        "child_id": a["childId"],
        "companion_commitment": a["companionCommitment"],
        "direction": str(direction),
        "border_point": decode_border_point(bytes.fromhex(a["borderPoint"][2:])),
        "expires_at": a["expiresAt"],
        "officer": a["officer"],
        "status": str(status),
    }


def _guardian_decision(a: dict[str, Any]) -> Row:
    return {
        "request_id": a["requestId"],
        "kind": "guardian",
        "decider": a["guardian"],
        "approved": a["approved"],
        "counted": a["counted"],
        "status": str(RequestStatus.from_ordinal(a["status"])),
    }


def _protection_decision(a: dict[str, Any]) -> Row:
    return {
        "request_id": a["requestId"],
        "kind": "protection",
        "decider": a["officer"],
        "approved": a["approved"],
        "counted": None,
        "status": str(RequestStatus.from_ordinal(a["status"])),
    }


def _access(event: DecodedEvent) -> Row:
    a = dict(event.args)
    role = a.pop("role", None)
    account = a.pop("account", None) or a.pop("newAdmin", None)
    sender = a.pop("sender", None)
    return {
        "contract": event.contract,
        "event": event.name,
        "role": role,
        "account": account,
        "sender": sender,
        "details": {k: str(v) for k, v in sorted(a.items())},
    }


_BUILDERS: dict[str, tuple[Table, Callable[[dict[str, Any]], Row]]] = {
    "ChildRegistered": (event_table(ChainChild), _child),
    "GuardianAdded": (event_table(ChainGuardianChange), _guardian_added),
    "GuardianRemoved": (event_table(ChainGuardianChange), _guardian_removed),
    "PolicyChanged": (event_table(ChainPolicyChange), _policy),
    "ChildRevoked": (
        event_table(ChainRevocation),
        lambda a: {"child_id": a["childId"], "reason_code": a["reasonCode"]},
    ),
    "ChildSuperseded": (
        event_table(ChainSupersession),
        lambda a: {"child_id": a["childId"], "successor_id": a["successorId"]},
    ),
    "CrossingRequested": (event_table(ChainRequest), _request),
    "GuardianDecided": (event_table(ChainDecision), _guardian_decision),
    "ProtectionDecided": (event_table(ChainDecision), _protection_decision),
    "CrossingOverridden": (
        event_table(ChainOverride),
        lambda a: {
            "request_id": a["requestId"],
            "officer": a["officer"],
            "court_order_hash": a["courtOrderHash"],
        },
    ),
    "CrossingRecorded": (
        event_table(ChainOutcome),
        lambda a: {
            "request_id": a["requestId"],
            "child_id": a["childId"],
            "outcome": str(Outcome.from_ordinal(a["outcome"])),
            "officer": a["officer"],
        },
    ),
}
ACCESS_EVENTS = frozenset(
    {
        "RoleGranted",
        "RoleRevoked",
        "RoleAdminChanged",
        "DefaultAdminTransferScheduled",
        "DefaultAdminTransferCanceled",
        "DefaultAdminDelayChangeScheduled",
        "DefaultAdminDelayChangeCanceled",
        "EIP712DomainChanged",
    }
)
HANDLED_EVENTS = frozenset(_BUILDERS) | ACCESS_EVENTS


def row_of(event: DecodedEvent, block_time: int) -> tuple[Table, Row]:
    """The table and row of one decoded event.

    Raises:
        KeyError: an event this module does not map (a test keeps the ABI and this in step).
    """
    if event.name in ACCESS_EVENTS:
        table, row = event_table(ChainAccessEvent), _access(event)
    else:
        table, build = _BUILDERS[event.name]
        row = build(event.args)
    row.update(
        block_number=event.block_number,
        block_hash=event.block_hash,
        block_time=block_time,
        tx_hash=event.tx_hash,
        log_index=event.log_index,
    )
    return table, row
