"""Many crossing requests at once: batched estimates, broadcasts and receipts.

For a desk that registers a coach of children, or a post that queued requests while its
link was down. Each request is exactly what :func:`crossings.request_crossing` makes: the
same checks, the same idempotency key (a request made here and retried one at a time, or
the other way round, is found rather than made twice), the same sealed companion and store
row, numbered by the same store effect when its receipt arrives. Only the transport
differs (:mod:`ledger_client.outbox.batching`): the estimates go in one JSON-RPC batch before
the database is locked; then, a chunk at a time, rows and signed transactions are committed
in one database transaction and broadcast in one batch, and while the node mines a chunk
the receipts of the one before are read and confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_abi.abi import encode
from eth_utils.abi import function_abi_to_4byte_selector
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_client.contracts.types import ChildId, Direction
from ledger_client.crypto import seal_json
from ledger_client.errors import ConflictError, InputError, NotFoundError
from ledger_client.identity import (
    companion_name_lookup,
    document_commitment,
    normalise_document,
)
from ledger_client.outbox.batching import (
    estimate_gas_many,
    held_keys,
    push_batch,
    settle_batch,
    settle_round,
)
from ledger_client.outbox.models import ActionState, OutboxItem
from ledger_client.outbox.outbox import SETTLE_TIMEOUT, Call, Intent, failure_of
from ledger_client.services.children import child_by_card
from ledger_client.services.context import Tutela, staff_acting_as

# The single request's own rules, shared so that both paths check and seal alike.
from ledger_client.services.crossings import (
    DEFAULT_EXPIRY_MINUTES,
    MAX_EXPIRY_MINUTES,
    _border_point,
    _companion_aad,
    _direction,
)
from ledger_client.store.models import CrossingRequest, StaffRole

# Requests per database transaction and broadcast: the node mines one chunk while the next
# is signed and stored.
CHUNK = 100


@dataclass(frozen=True)
class CrossingRequestInput:
    """One request as a border officer types it (see :func:`crossings.request_crossing`)."""

    card: str
    direction: str
    border_point: str
    companion_name: str
    companion_document: str
    expires_in_minutes: int = DEFAULT_EXPIRY_MINUTES
    idempotency_key: str | None = None


@dataclass(frozen=True)
class RequestedCrossing:
    """What became of one request: its number on chain, or why the chain refused it."""

    key: str
    request: int | None
    tx_hash: str
    failure: str | None = None


@dataclass(frozen=True)
class _Planned:
    """One request, checked: what the store and the chain will hold, and its action."""

    number: int  # its place in the caller's list, from 1, for messages
    card: str
    record: str  # the child record the card leads to now
    direction: Direction
    border_point: str
    name: str
    document: str
    companion: bytes
    minutes: int
    intent: Intent


def request_crossings(
    tutela: Tutela,
    requests: Sequence[CrossingRequestInput],
    *,
    acting_as: str | None = None,
    timeout: float = SETTLE_TIMEOUT,
) -> list[RequestedCrossing]:
    """Opens many crossing requests as one officer; one result per input, in order.

    Nothing is written unless every request passes its checks and the chain's estimate. A
    transaction that reverts once mined (the record changed in between) is reported in its
    result, its store row removed, without hiding the others. Should the store fail part
    way, the chunks before stay made: call again with the same keys to finish.

    Raises:
        InputError: a malformed request (the message says which).
        NotFoundError: no child has a card, or there is no such officer.
        ConflictError: a key was used for another action, or a record changed meanwhile.
        ContractRevertError: the ledger would refuse a request (a note says which).
        ChainError: not all confirmed in time; they stay queued and are sent later.
    """
    with tutela.database.transaction() as session:
        plans = [_plan(tutela, session, n, r, acting_as) for n, r in enumerate(requests, 1)]
        sender = tutela.signer_of(staff_acting_as(session, StaffRole.BORDER_OFFICER, acting_as))
    # A key given twice names one action: the first one says what it is.
    first: dict[str, _Planned] = {}
    for plan in plans:
        earlier = first.setdefault(plan.intent.key, plan)
        if tutela.outbox.fingerprint(earlier.intent) != tutela.outbox.fingerprint(plan.intent):
            raise ConflictError(f"request {plan.number} reuses the key of request {earlier.number}")
    with tutela.database.transaction() as session:
        made = held_keys(tutela.outbox, session, [plan.intent for plan in first.values()])
    new = [plan for key, plan in first.items() if key not in made]
    calls = _calls(tutela, sender.address, new)
    waiting: list[OutboxItem] = []
    for start in range(0, len(new), CHUNK):
        sent = _enqueue(tutela, new[start : start + CHUNK], calls, acting_as)
        push_batch(tutela.outbox, sent)
        waiting = settle_round(tutela.outbox, waiting) + sent
    items = {item.key: item for item in settle_batch(tutela.outbox, list(first), timeout)}
    with tutela.database.transaction() as session:
        rows = session.execute(
            select(CrossingRequest.action_key, CrossingRequest.request_id).where(
                CrossingRequest.action_key.in_(list(first))
            )
        )
        numbers = {key: number for key, number in rows}
    results = []
    for plan in plans:
        item = items[plan.intent.key]
        if item.state == ActionState.FAILED:
            results.append(RequestedCrossing(item.key, None, item.tx_hash, str(failure_of(item))))
        elif numbers.get(item.key) is None:
            raise ConflictError(f"the idempotency key {item.key!r} belongs to another action")
        else:
            results.append(RequestedCrossing(item.key, numbers[item.key], item.tx_hash))
    return results


def _plan(
    tutela: Tutela,
    session: Session,
    number: int,
    request: CrossingRequestInput,
    acting_as: str | None,
) -> _Planned:
    try:
        direction = _direction(request.direction)
        code = _border_point(request.border_point)
        name = request.companion_name.strip()
        if not name or len(name) > 100:
            raise InputError("the companion's name must have 1 to 100 characters")
        document = normalise_document(request.companion_document)
        if not 1 <= request.expires_in_minutes <= MAX_EXPIRY_MINUTES:
            raise InputError(f"a request expires in 1 to {MAX_EXPIRY_MINUTES} minutes")
        record = child_by_card(session, request.card).child_id
    except (InputError, NotFoundError) as error:
        raise type(error)(f"request {number}: {error}") from error
    companion = document_commitment(tutela.commitment_key, document)
    minutes = request.expires_in_minutes
    # Word for word the single request's intent, so that both paths derive the same key.
    intent = tutela.intent(
        "crossing-request",
        {
            "child": record,
            "direction": direction,
            "border_point": code,
            "companion": companion.hex(),
            "expires_in": minutes,
            "as": acting_as,
        },
        request.idempotency_key,
        tutela.minute(),
    )
    return _Planned(
        number, request.card, record, direction, code, name, document, companion, minutes, intent
    )


def _calls(tutela: Tutela, sender: str, plans: list[_Planned]) -> dict[str, tuple[Call, int]]:
    """Each new request's transaction and gas; raises the chain's refusal of any of them."""
    if not plans:
        return {}
    # One clock reading for the batch: the requests are made in the same instant.
    now = tutela.chain_time()
    calls = [_call(tutela, plan, now) for plan in plans]
    # Asked before the database is locked. The contract's refusal of an inactive record
    # (revoked, corrected) arrives here, where the single path asks the registry first.
    estimates = estimate_gas_many(tutela.w3, sender, [{"to": c.to, "data": c.data} for c in calls])
    prepared = {}
    for plan, call, estimate in zip(plans, calls, estimates, strict=True):
        if isinstance(estimate, Exception):
            estimate.add_note(f"request {plan.number} of the batch; nothing was written")
            raise estimate
        prepared[plan.intent.key] = (call, estimate)
    return prepared


def _call(tutela: Tutela, plan: _Planned, now: int) -> Call:
    function = tutela.ledger.request_crossing(
        ChildId(bytes.fromhex(plan.record.removeprefix("0x"))),
        plan.direction,
        plan.border_point,
        plan.companion,
        now + plan.minutes * 60,
    )
    # web3's encoder passes every argument through its ENS and address normalisers, a
    # quarter of a millisecond a call (measured); these arguments are bytes and integers
    # already, and eth_abi encodes them as the function's ABI says, to the same bytes.
    types = [argument["type"] for argument in function.abi["inputs"]]
    data = function_abi_to_4byte_selector(function.abi) + encode(types, list(function.args))
    return Call(to=function.address, data=data)


def _enqueue(
    tutela: Tutela,
    plans: list[_Planned],
    calls: dict[str, tuple[Call, int]],
    acting_as: str | None,
) -> list[OutboxItem]:
    """Writes a chunk's rows and signed transactions in one database transaction."""
    with tutela.database.transaction() as session:
        officer = staff_acting_as(session, StaffRole.BORDER_OFFICER, acting_as)
        # Asked again under the lock: another process may have made some meanwhile.
        made = held_keys(tutela.outbox, session, [plan.intent for plan in plans])
        todo = [plan for plan in plans if plan.intent.key not in made]
        for plan in todo:
            if child_by_card(session, plan.card).child_id != plan.record:
                raise ConflictError(f"request {plan.number}: the child's record changed")
        session.add_all(_stored_request(tutela, plan, officer.id) for plan in todo)
        return tutela.outbox.enqueue_many(
            session,
            tutela.signer_of(officer),
            [(plan.intent, calls[plan.intent.key][0]) for plan in todo],
            gases=[calls[plan.intent.key][1] for plan in todo],
        )


def _stored_request(tutela: Tutela, plan: _Planned, officer_id: int) -> CrossingRequest:
    return CrossingRequest(
        action_key=plan.intent.key,
        child_id=plan.record,
        direction=plan.direction,
        border_point=plan.border_point,
        companion_commitment="0x" + plan.companion.hex(),
        companion_sealed=seal_json(
            tutela.master_key,
            {"name": plan.name, "document": plan.document},
            associated_data=_companion_aad(plan.intent.key),
        ).to_bytes(),
        companion_name_lookup=companion_name_lookup(tutela.commitment_key, plan.name),
        requested_by=officer_id,
        requested_at=datetime.now(UTC),
    )
