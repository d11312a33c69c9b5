"""Writes each action's signed transaction to the store before it reaches a node.

An action goes through four states: ``queued`` (signed, numbered and committed, nothing sent
yet), ``sent`` (a node accepted it), ``confirmed`` (mined with the configured number of
blocks on top) or ``failed`` (mined and reverted; the decoded reason is kept). Whoever sees
the receipt first, the caller waiting on it or the reconciler, applies the action's store
effects in the same database transaction that marks it final, so they happen exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import TransactionNotFound
from web3.types import TxParams, TxReceipt, Wei

from ledger_client.contracts.reverts import decode_revert
from ledger_client.contracts.sender import (
    GAS_MARGIN,
    Fees,
    current_fees,
    explain_failure,
    rpc,
    unsigned_transaction,
)
from ledger_client.errors import (
    ChainError,
    ConflictError,
    ContractRevertError,
    TransactionFailedError,
)
from ledger_client.keys import Signer
from ledger_client.outbox.models import ActionState, OutboxItem
from ledger_client.outbox.nonces import allocate_nonces
from ledger_client.store.database import Database

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.05
SETTLE_TIMEOUT = 120.0
# Fees are re-read after this long; a permissioned chain's are usually constant.
FEES_LIFETIME = 60.0
# Ids per ``IN (...)`` list: well under SQLite's and PostgreSQL's parameter limits.
_IN_LIMIT = 500


@dataclass(frozen=True)
class Intent:
    """A business action, named by its key; its arguments make the key's fingerprint."""

    key: str
    purpose: str
    arguments: Mapping[str, object]


@dataclass(frozen=True)
class Call:
    """The transaction that carries an intent out."""

    to: str | None
    data: bytes
    value: int = 0
    # Opaque ids the action's effects need later (never personal data).
    context: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, function: ContractFunction, **context: object) -> Call:
        return cls(
            to=function.address, data=HexBytes(function._encode_transaction_data()), context=context
        )


@dataclass(frozen=True)
class Effects:
    """What an action changes in the store once its fate is known; each runs exactly once."""

    confirmed: Callable[[Session, OutboxItem, TxReceipt], None] | None = None
    failed: Callable[[Session, OutboxItem], None] | None = None
    # The chain lost the block that held it (a node restart or a reorganisation).
    lost: Callable[[Session, OutboxItem], None] | None = None


class Outbox:
    """The store-backed sender of one process; safe to use from several processes at once."""

    def __init__(
        self,
        database: Database,
        w3: Web3,
        chain_id: int,
        *,
        fingerprint_key: bytes,
        signer_for: Callable[[str], Signer],
        effects: Mapping[str, Effects] | None = None,
        confirmations: int = 0,
    ) -> None:
        self.database = database
        self.w3 = w3
        self.chain_id = chain_id
        self.confirmations = confirmations
        self.effects: dict[str, Effects] = dict(effects or {})
        self._fingerprint_key = fingerprint_key
        self.signer_for = signer_for
        self._fees: Fees | None = None
        self._fees_read_at = 0.0

    # -- writing -------------------------------------------------------------------------

    def find(self, session: Session, intent: Intent) -> OutboxItem | None:
        """The earlier attempt at this action, if there is one.

        Raises:
            ConflictError: the key was used for a different action.
        """
        item = session.scalar(select(OutboxItem).where(OutboxItem.key == intent.key))
        if item is not None and item.fingerprint != self.fingerprint(intent):
            raise ConflictError(
                f"the idempotency key {intent.key!r} was used for another action "
                f"({item.purpose}); choose a new key"
            )
        return item

    def enqueue(self, session: Session, signer: Signer, intent: Intent, call: Call) -> OutboxItem:
        """Checks the action against the chain, then signs and stores its transaction.

        Nothing is sent: the caller commits its own store changes together with this row,
        then calls :meth:`settle`. A refusal by the contract raises before anything is
        written.

        Raises:
            ContractRevertError: the contract would refuse the action.
            ChainError: the node is unreachable or refused the estimate.
        """
        return self.enqueue_many(session, signer, [(intent, call)])[0]

    def enqueue_many(
        self,
        session: Session,
        signer: Signer,
        actions: Sequence[tuple[Intent, Call]],
        *,
        gases: Sequence[int] | None = None,
    ) -> list[OutboxItem]:
        """Like :meth:`enqueue` for several actions of one sender, with consecutive nonces.

        ``gases``: the caller's estimates, margin included (``batching.estimate_gas_many``
        makes them in one request, before the database transaction); asked here otherwise.
        """
        if gases is None:
            gases = [self._estimate(signer.address, call) for _, call in actions]
        chain_count = rpc(lambda: self.w3.eth.get_transaction_count(signer.address, "pending"))
        first = allocate_nonces(session, self.chain_id, signer.address, len(actions), chain_count)
        fees = self._current_fees()
        now = datetime.now(UTC)
        items = []
        for offset, ((intent, call), gas) in enumerate(zip(actions, gases, strict=True)):
            fields = {
                "to": call.to,
                "data": HexBytes(call.data).to_0x_hex(),
                "value": call.value,
                "gas": gas,
            }
            raw, tx_hash = self._sign(signer, fields, first + offset, fees)
            item = OutboxItem(
                key=intent.key,
                purpose=intent.purpose,
                fingerprint=self.fingerprint(intent),
                chain_id=self.chain_id,
                sender=signer.address,
                nonce=first + offset,
                call=fields,
                raw=raw,
                tx_hash=tx_hash,
                state=ActionState.QUEUED,
                context=dict(call.context),
                attempts=0,
                created_at=now,
                updated_at=now,
            )
            session.add(item)
            items.append(item)
        session.flush()
        return items

    def fingerprint(self, intent: Intent) -> str:
        # Keyed, because the arguments can hold personal data (an enrolment's names).
        text = json.dumps(
            {"purpose": intent.purpose, "arguments": intent.arguments},
            sort_keys=True,
            default=str,
        )
        return hmac.new(self._fingerprint_key, text.encode(), hashlib.sha256).hexdigest()

    # -- sending and waiting -------------------------------------------------------------

    def settle(self, key: str, timeout: float = SETTLE_TIMEOUT) -> OutboxItem:
        """Sends the action if needed and waits until it is confirmed.

        Raises:
            ContractRevertError: the transaction was mined and reverted (decoded).
            ChainError: not confirmed in time; the action stays queued and will be sent.
        """
        deadline = time.monotonic() + timeout
        repeat = True
        while True:
            item = self.load(key)
            final = item.state in (ActionState.CONFIRMED, ActionState.FAILED)
            # A repeat that finds the action settled checks once that the chain still holds
            # it: a node restarted without its last blocks may have lost it.
            if final and repeat and self._receipt(item.tx_hash) is None:
                repeat = False
                self.recover_lost(item.sender)
                continue
            repeat = False
            if item.state == ActionState.CONFIRMED:
                return item
            if item.state == ActionState.FAILED:
                raise failure_of(item)
            self.push(item.sender, up_to_nonce=item.nonce)
            if self.check(item.id):
                # What this push sent below our nonce is mined too: settle it now rather
                # than leave it for the reconciler.
                self._check_earlier(item.sender, item.nonce)
                continue
            # A node that lost blocks leaves a gap below this nonce that nobody else fills.
            if self.recover_lost(item.sender):
                continue
            if time.monotonic() > deadline:
                raise ChainError(
                    f"the transaction of {key!r} was not confirmed within {timeout:.0f} s; it "
                    "stays in the outbox and is sent again by 'tutela reconcile'"
                )
            time.sleep(POLL_INTERVAL)

    def _check_earlier(self, sender: str, nonce: int) -> None:
        with self.database.transaction() as session:
            earlier = list(
                session.scalars(
                    select(OutboxItem.id).where(
                        OutboxItem.chain_id == self.chain_id,
                        OutboxItem.sender == sender,
                        OutboxItem.state.in_((ActionState.QUEUED, ActionState.SENT)),
                        OutboxItem.nonce < nonce,
                    )
                )
            )
        for item_id in earlier:
            self.check(item_id)

    def load(self, key: str) -> OutboxItem:
        with self.database.transaction() as session:
            item = session.scalar(select(OutboxItem).where(OutboxItem.key == key))
            if item is None:
                raise ConflictError(f"the outbox holds no action {key!r}")
            return item

    def push(self, sender: str, up_to_nonce: int | None = None) -> int:
        """Broadcasts the sender's unconfirmed transactions in nonce order; returns how many.

        A node that lost a transaction gets it again; a transaction whose nonce was taken by
        another is signed again at a fresh nonce.
        """
        with self.database.transaction() as session:
            query = select(OutboxItem).where(
                OutboxItem.chain_id == self.chain_id,
                OutboxItem.sender == sender,
                OutboxItem.state.in_((ActionState.QUEUED, ActionState.SENT)),
            )
            if up_to_nonce is not None:
                query = query.where(OutboxItem.nonce <= up_to_nonce)
            waiting = list(session.scalars(query.order_by(OutboxItem.nonce)))
        sent = 0
        for item in waiting:
            verdict = self._broadcast(item)
            if verdict == "sent":
                sent += 1
            elif verdict == "gap":
                break
        return sent

    def check(self, item_id: int) -> bool:
        """Looks for the item's receipt; applies its outcome when it is deep enough.

        Returns True when the item became final.
        """
        with self.database.transaction() as session:
            item = session.get(OutboxItem, item_id)
            assert item is not None
            tx_hash = item.tx_hash
        receipt = self._receipt(tx_hash)
        if receipt is None:
            return False
        if self.confirmations:
            head = rpc(lambda: self.w3.eth.block_number)
            if receipt["blockNumber"] + self.confirmations > head:
                return False
        return self.finish(item_id, receipt)

    def finish(self, item_id: int, receipt: TxReceipt) -> bool:
        """Marks the item confirmed or failed and applies its effects, once."""
        failure: Exception | None = None
        if receipt["status"] != 1:
            failure = self._explain(item_id, receipt)
        with self.database.transaction() as session:
            item = session.get(OutboxItem, item_id, with_for_update=True)
            assert item is not None
            if item.state in (ActionState.CONFIRMED, ActionState.FAILED):
                return True
            item.block_number = receipt["blockNumber"]
            item.block_hash = HexBytes(receipt["blockHash"]).to_0x_hex()
            item.updated_at = datetime.now(UTC)
            effects = self.effects.get(item.purpose, Effects())
            if failure is None:
                item.state = ActionState.CONFIRMED
                item.failure = None
                if effects.confirmed:
                    effects.confirmed(session, item, receipt)
            else:
                item.state = ActionState.FAILED
                item.failure = str(failure)[:500]
                if isinstance(failure, ContractRevertError):
                    item.revert_data = failure.revert_data
                if effects.failed:
                    effects.failed(session, item)
            logger.info("%s %s in block %s", item.key, item.state, item.block_number)
        return True

    def recover_lost(self, sender: str) -> int:
        """Reopens the sender's settled items whose nonce the chain has not reached.

        Returns how many: they were in blocks the node has lost (a restart without its
        state, a reorganisation), and are sent again from the stored raw transactions.
        """
        address = _address(sender)
        mined = rpc(lambda: self.w3.eth.get_transaction_count(address, "latest"))
        with self.database.reading() as session:
            suspects = list(
                session.execute(
                    select(OutboxItem.id, OutboxItem.tx_hash)
                    .where(
                        OutboxItem.chain_id == self.chain_id,
                        OutboxItem.sender == sender,
                        OutboxItem.state.in_((ActionState.CONFIRMED, ActionState.FAILED)),
                        OutboxItem.nonce >= mined,
                    )
                    .order_by(OutboxItem.nonce)
                )
            )
        # Another process may have mined and confirmed a suspect after the count was read:
        # only a missing receipt proves the chain lost it.
        lost = [item_id for item_id, tx_hash in suspects if self._receipt(tx_hash) is None]
        for item_id in lost:
            self.reopen(item_id)
        return len(lost)

    def mark_sent_many(self, item_ids: Sequence[int]) -> None:
        """Records that a node accepted these items (a batched :meth:`push`), at once."""
        with self.database.transaction() as session:
            for start in range(0, len(item_ids), _IN_LIMIT):
                chunk = list(item_ids[start : start + _IN_LIMIT])
                query = select(OutboxItem).where(OutboxItem.id.in_(chunk)).with_for_update()
                for item in session.scalars(query):
                    if item.state == ActionState.QUEUED:
                        item.state = ActionState.SENT
                    item.attempts += 1
                    item.failure = None
                    item.updated_at = datetime.now(UTC)

    def finish_many(self, receipts: Sequence[tuple[int, TxReceipt]]) -> None:
        """:meth:`finish` for many items, the successful ones in one database transaction.

        A reverted one goes through :meth:`finish`, which asks the node why.
        """
        mined = {i: r for i, r in receipts if r["status"] == 1}
        with self.database.transaction() as session:
            ids = list(mined)
            items: list[OutboxItem] = []
            for start in range(0, len(ids), _IN_LIMIT):
                query = (
                    select(OutboxItem)
                    .where(OutboxItem.id.in_(ids[start : start + _IN_LIMIT]))
                    .with_for_update()
                )
                items.extend(session.scalars(query))
            items = [i for i in items if i.state not in (ActionState.CONFIRMED, ActionState.FAILED)]
            now = datetime.now(UTC)
            for item in items:
                receipt = mined[item.id]
                item.block_number = receipt["blockNumber"]
                item.block_hash = HexBytes(receipt["blockHash"]).to_0x_hex()
                item.updated_at = now
                item.state = ActionState.CONFIRMED
                item.failure = None
            # Written once, before the effects: each statement of an effect would otherwise
            # flush the rows changed so far, one round at a time.
            session.flush()
            for item in items:
                confirmed = self.effects.get(item.purpose, Effects()).confirmed
                if confirmed:
                    confirmed(session, item, mined[item.id])
                logger.info("%s %s in block %s", item.key, item.state, item.block_number)
        for item_id, receipt in receipts:
            if receipt["status"] != 1:
                self.finish(item_id, receipt)

    def reopen(self, item_id: int) -> None:
        """The chain no longer holds the item's transaction: undo its effects, send again."""
        with self.database.transaction() as session:
            item = session.get(OutboxItem, item_id, with_for_update=True)
            assert item is not None
            if item.state not in (ActionState.CONFIRMED, ActionState.FAILED):
                return
            effects = self.effects.get(item.purpose, Effects())
            if effects.lost:
                effects.lost(session, item)
            logger.warning("%s: block %s was lost, sending again", item.key, item.block_number)
            item.state = ActionState.SENT
            item.block_number = None
            item.block_hash = None
            item.updated_at = datetime.now(UTC)

    # -- internals -----------------------------------------------------------------------

    def _estimate(self, sender: str, call: Call) -> int:
        params: TxParams = {"from": sender, "data": HexBytes(call.data), "value": Wei(call.value)}
        if call.to is not None:
            params["to"] = call.to
        return int(rpc(lambda: self.w3.eth.estimate_gas(params)) * GAS_MARGIN)

    def _sign(
        self, signer: Signer, call: dict[str, Any], nonce: int, fees: Fees
    ) -> tuple[bytes, str]:
        tx = unsigned_transaction(
            chain_id=self.chain_id,
            nonce=nonce,
            gas=int(str(call["gas"])),
            to=call["to"] if call["to"] else None,
            data=HexBytes(str(call["data"])),
            value=int(str(call["value"])),
            fees=fees,
        )
        raw = bytes(signer.sign_transaction(tx))
        return raw, Web3.keccak(raw).to_0x_hex()

    def _broadcast(self, item: OutboxItem) -> str:
        """``sent``, ``gap`` (an earlier nonce is missing), ``final`` or ``refused``."""
        try:
            rpc(lambda: self.w3.eth.send_raw_transaction(item.raw))
        except ChainError as error:
            return self._after_refusal(item, str(error))
        self._mark_sent(item.id, None)
        return "sent"

    def _after_refusal(self, item: OutboxItem, message: str) -> str:
        lowered = message.lower()
        if (
            "already known" in lowered
            or "already imported" in lowered
            or "known transaction" in lowered
        ):
            self._mark_sent(item.id, None)
            return "sent"
        if "nonce too low" in lowered or "nonce is too low" in lowered:
            receipt = self._receipt(item.tx_hash)
            if receipt is not None:
                self.check(item.id)
                return "final"
            self._resign(item.id)
            return "refused"
        if "nonce too high" in lowered:
            return "gap"
        logger.warning("node refused %s: %s", item.key, message)
        self._mark_sent(item.id, message)
        return "refused"

    def _mark_sent(self, item_id: int, refusal: str | None) -> None:
        with self.database.transaction() as session:
            item = session.get(OutboxItem, item_id, with_for_update=True)
            assert item is not None
            if item.state == ActionState.QUEUED and refusal is None:
                item.state = ActionState.SENT
            item.attempts += 1
            item.failure = refusal[:500] if refusal else None
            item.updated_at = datetime.now(UTC)

    def _resign(self, item_id: int) -> None:
        """Another transaction took the item's nonce, so its own can never be mined."""
        with self.database.transaction() as session:
            item = session.get(OutboxItem, item_id, with_for_update=True)
            assert item is not None
            if item.state not in (ActionState.QUEUED, ActionState.SENT):
                return
            sender = _address(item.sender)
            chain_count = rpc(lambda: self.w3.eth.get_transaction_count(sender, "pending"))
            nonce = allocate_nonces(session, self.chain_id, item.sender, 1, chain_count)
            signer = self.signer_for(item.sender)
            item.raw, item.tx_hash = self._sign(signer, item.call, nonce, self._current_fees())
            logger.warning(
                "%s: nonce %s was taken, signed again at %s", item.key, item.nonce, nonce
            )
            item.nonce = nonce
            item.state = ActionState.QUEUED
            item.updated_at = datetime.now(UTC)

    def _receipt(self, tx_hash: str) -> TxReceipt | None:
        def fetch() -> TxReceipt | None:
            # Not yet mined, or mined in a block the node has lost: both are "no receipt".
            try:
                return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                return None

        return rpc(fetch)

    def _explain(self, item_id: int, receipt: TxReceipt) -> Exception:
        with self.database.transaction() as session:
            item = session.get(OutboxItem, item_id)
            assert item is not None
            call: TxParams = {"from": item.sender, "data": HexBytes(str(item.call["data"]))}
            if item.call.get("to"):
                call["to"] = str(item.call["to"])
            tx_hash = item.tx_hash
        return explain_failure(self.w3, call, receipt["blockNumber"], tx_hash)

    def _current_fees(self) -> Fees:
        if self._fees is None or time.monotonic() - self._fees_read_at > FEES_LIFETIME:
            self._fees = current_fees(self.w3)
            self._fees_read_at = time.monotonic()
        return self._fees


def _address(text: str) -> ChecksumAddress:
    return Web3.to_checksum_address(text)


def failure_of(item: OutboxItem) -> ChainError:
    """The error a failed action ended with, decoded again from the stored revert data."""
    if item.revert_data:
        return decode_revert(item.revert_data, item.tx_hash)
    return TransactionFailedError(
        item.failure or f"transaction {item.tx_hash} failed", item.tx_hash
    )
