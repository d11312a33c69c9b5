"""Many outbox actions at once: batched JSON-RPC for estimates, broadcasts and receipts.

One HTTP round trip per call is what limits a sender (FACTS: 28 tx/s with web3 filling
every field, 1,587 tx/s for pre-signed transactions sent in batches). A JSON-RPC batch
carries hundreds of calls in one request; geth, Besu, anvil and the embedded node answer it.
web3's ``batch_requests()`` refuses ``eth_sendRawTransaction``, so these helpers use the
provider's ``make_batch_request`` and read the raw answers, one per call, errors included.
A provider without batches is asked one call at a time and gives the same answers.

:func:`settle_batch` is the batched twin of :meth:`Outbox.settle`: the fast path for the
common case, handing anything unusual (a refused broadcast, a lost transaction, a revert) to
the outbox's own one-by-one handling, which knows every case.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3
from web3._utils.method_formatters import receipt_formatter
from web3.types import RPCEndpoint, TxReceipt

from ledger_client.contracts.reverts import decode_revert
from ledger_client.contracts.sender import GAS_MARGIN
from ledger_client.errors import ChainError, ChainUnavailableError, ConflictError
from ledger_client.outbox.models import ActionState, OutboxItem
from ledger_client.outbox.outbox import POLL_INTERVAL, SETTLE_TIMEOUT, Intent, Outbox

logger = logging.getLogger(__name__)

# geth refuses batches of more than 1,000 calls, Besu 1,024, the embedded node 1,000.
BATCH_LIMIT = 500
# Rounds without a new receipt before the outbox's careful path sends the stragglers again.
RESEND_AFTER = 20


@dataclass(frozen=True)
class Answer:
    """One call's JSON-RPC answer: a result, or the node's error object."""

    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def message(self) -> str:
        return str((self.error or {}).get("message", "no message"))


def call_many(w3: Web3, calls: Sequence[tuple[str, list[Any]]]) -> list[Answer]:
    """Sends the calls in batches of :data:`BATCH_LIMIT`; one answer per call, in order.

    Raises:
        ChainUnavailableError: the node is not answering.
    """
    answers: list[Answer] = []
    for start in range(0, len(calls), BATCH_LIMIT):
        answers.extend(_batch(w3, calls[start : start + BATCH_LIMIT]))
    return answers


def _batch(w3: Web3, calls: Sequence[tuple[str, list[Any]]]) -> list[Answer]:
    requests = [(RPCEndpoint(method), params) for method, params in calls]
    try:
        try:
            raw: Any = w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]
        except NotImplementedError:
            raw = None
        if not isinstance(raw, list) or len(raw) != len(requests):
            # No batches here, or the node refused the batch as a whole: one by one.
            if raw is not None:
                logger.warning("the node refused a batch (%s); sending one by one", raw)
            raw = [w3.provider.make_request(method, params) for method, params in requests]
    except OSError as error:
        raise ChainUnavailableError(f"the node is not answering: {error}") from error
    return [Answer(result=r.get("result"), error=r.get("error")) for r in raw]


def estimate_gas_many(
    w3: Web3, sender: str, calls: Sequence[dict[str, Any]]
) -> list[int | ChainError]:
    """Gas for each call (``to``, ``data``, ``value``) with the outbox's margin, or the error.

    A ``ContractRevertError`` where the call would revert; a ``ChainError`` where the node
    refused the estimate for another reason.

    Raises:
        ChainUnavailableError: the node is not answering.
    """
    requests = []
    for call in calls:
        params: dict[str, Any] = {
            "from": sender,
            "data": Web3.to_hex(call["data"]),
            "value": hex(int(call.get("value", 0))),
        }
        if call.get("to"):
            params["to"] = call["to"]
        requests.append(("eth_estimateGas", [params]))
    return [
        _estimate_error(answer) if answer.error else int(int(answer.result, 16) * GAS_MARGIN)
        for answer in call_many(w3, requests)
    ]


def _estimate_error(answer: Answer) -> ChainError:
    # anvil, geth and the embedded chain answer code 3 with the revert bytes as ``data``;
    # Besu answers -32000 "Execution reverted" with the same ``data``.
    data = (answer.error or {}).get("data")
    if (isinstance(data, str) and data.startswith("0x")) or "revert" in answer.message.lower():
        return decode_revert(data if isinstance(data, str) else None)
    return ChainError(f"the node refused: {answer.message}")


def send_raw_many(w3: Web3, raws: Sequence[bytes]) -> list[str | None]:
    """Broadcasts signed transactions in order; ``None`` where accepted, else the refusal."""
    answers = call_many(w3, [("eth_sendRawTransaction", [Web3.to_hex(raw)]) for raw in raws])
    return [None if a.error is None else a.message for a in answers]


def receipts_many(w3: Web3, tx_hashes: Sequence[str]) -> list[TxReceipt | None]:
    """Each transaction's receipt as web3 formats it, or ``None`` where not (or no longer) mined.

    Raises:
        ChainError: the node answered an error.
    """
    answers = call_many(w3, [("eth_getTransactionReceipt", [h]) for h in tx_hashes])
    receipts: list[TxReceipt | None] = []
    for answer in answers:
        if answer.error is not None:
            raise ChainError(f"the node refused a receipt: {answer.message}")
        receipts.append(None if answer.result is None else receipt_formatter(answer.result))
    return receipts


def push_batch(outbox: Outbox, items: Sequence[OutboxItem]) -> None:
    """Broadcasts the items in one batch per sender, in nonce order.

    A refusal (already known, a nonce taken or ahead) is left to :meth:`Outbox.push`, which
    sends the sender's open items again one by one and knows what each refusal means.
    """
    senders = sorted({item.sender for item in items})
    for sender in senders:
        mine = sorted((i for i in items if i.sender == sender), key=lambda i: i.nonce)
        refusals = send_raw_many(outbox.w3, [item.raw for item in mine])
        outbox.mark_sent_many(
            [i.id for i, refusal in zip(mine, refusals, strict=True) if not refusal]
        )
        if any(refusals):
            logger.info(
                "%d of %d refused in a batch; sending one by one",
                sum(map(bool, refusals)),
                len(mine),
            )
            outbox.push(sender, up_to_nonce=mine[-1].nonce)


def settle_round(outbox: Outbox, items: Sequence[OutboxItem]) -> list[OutboxItem]:
    """Confirms those of the items whose receipts are in, without waiting; returns the rest."""
    waiting = [item for item in items if item.state not in _FINAL]
    if not waiting:
        return []
    receipts = receipts_many(outbox.w3, [item.tx_hash for item in waiting])
    found = [(item.id, r) for item, r in zip(waiting, receipts, strict=True) if r is not None]
    if outbox.confirmations and found:
        head = outbox.w3.eth.block_number
        found = [(i, r) for i, r in found if r["blockNumber"] + outbox.confirmations <= head]
    if not found:
        return waiting
    outbox.finish_many(found)
    # Reloaded: a reverted one went through the careful path, which may sign it again.
    return [i for i in _load(outbox, [i.key for i in waiting]) if i.state not in _FINAL]


def settle_batch(
    outbox: Outbox, keys: Sequence[str], timeout: float = SETTLE_TIMEOUT
) -> list[OutboxItem]:
    """Sends the queued actions and waits until every one is final; in ``keys`` order.

    A reverted action comes back ``failed`` (its effects undone) rather than raising, so that
    one refusal does not hide the others' outcome: see :func:`failure_of` for its error.

    Raises:
        ChainError: not all final within ``timeout``; the rest stay in the outbox and are
            sent by the reconciler.
    """
    deadline = time.monotonic() + timeout
    open_items = [item for item in _load(outbox, keys) if item.state not in _FINAL]
    # Those a node accepted already are not sent again unless they seem lost (below).
    push_batch(outbox, [item for item in open_items if item.state == ActionState.QUEUED])
    idle = 0
    while open_items:
        still = settle_round(outbox, open_items)
        idle = idle + 1 if len(still) == len(open_items) else 0
        open_items = still
        if not open_items:
            break
        if time.monotonic() > deadline:
            raise ChainError(
                f"{len(open_items)} of {len(keys)} transactions were not confirmed within "
                f"{timeout:.0f} s; they stay in the outbox and are sent again by 'tutela reconcile'"
            )
        if idle >= RESEND_AFTER:
            idle = 0
            for sender in sorted({i.sender for i in open_items}):
                last = max(i.nonce for i in open_items if i.sender == sender)
                outbox.push(sender, up_to_nonce=last)
            open_items = _load(outbox, [i.key for i in open_items])
        time.sleep(POLL_INTERVAL)
    return _load(outbox, keys)


_FINAL = (ActionState.CONFIRMED, ActionState.FAILED)


def held_keys(outbox: Outbox, session: Session, intents: Sequence[Intent]) -> set[str]:
    """Keys of these actions the outbox holds already: :meth:`Outbox.find`, batched.

    Raises:
        ConflictError: a key was used for another action.
    """
    by_key = {intent.key: intent for intent in intents}
    keys = list(by_key)
    found: set[str] = set()
    for start in range(0, len(keys), BATCH_LIMIT):
        query = select(OutboxItem.key).where(OutboxItem.key.in_(keys[start : start + BATCH_LIMIT]))
        found.update(session.scalars(query))
    for key in found:
        outbox.find(session, by_key[key])  # raises when the arguments differ
    return found


def _load(outbox: Outbox, keys: Sequence[str]) -> list[OutboxItem]:
    by_key: dict[str, OutboxItem] = {}
    with outbox.database.transaction() as session:
        for start in range(0, len(keys), BATCH_LIMIT):
            chunk = list(keys[start : start + BATCH_LIMIT])
            for item in session.scalars(select(OutboxItem).where(OutboxItem.key.in_(chunk))):
                by_key[item.key] = item
    missing = [key for key in keys if key not in by_key]
    if missing:
        raise ConflictError(f"the outbox holds no action {missing[0]!r}")
    return [by_key[key] for key in keys]
