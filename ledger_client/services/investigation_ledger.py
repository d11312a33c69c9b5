"""``check_on_ledger``: read an event from the node again and compare it with the index.

The index is a copy; what an investigator defends is the chain. So the check asks the node
for the transaction's receipt, decodes the log with the indexer's own decoders, and says in
plain words where the index row differs from it (a tampered row, a block the index missed
being replaced, an event that is not on the chain at all).
"""

from __future__ import annotations

import re
from typing import Any, Final

from hexbytes import HexBytes
from sqlalchemy import Table, select
from web3.exceptions import TransactionNotFound

from ledger_client.contracts.sender import rpc
from ledger_client.errors import ChainError, InputError
from ledger_client.indexer.events import decode_log
from ledger_client.indexer.rows import row_of
from ledger_client.indexer.target import load_target
from ledger_client.services.audit import Actor
from ledger_client.services.context import Tutela
from ledger_client.services.investigation_model import Case, LedgerCheck, LedgerProof, audit_read

_TX_HASH: Final = re.compile(r"0x[0-9a-fA-F]{64}")
# Columns the indexer recomputes from later events (derived.py): they rightly differ from
# what the event alone says, and ``tutela verify`` checks them.
_DERIVED: Final = {
    "chain_children": frozenset({"status", "policy", "threshold", "successor_id"}),
    "chain_requests": frozenset({"status"}),
}
_IGNORED: Final = frozenset({"id"})


def parse_proof(tx_hash: str, log_index: int | str) -> LedgerProof:
    """A proof as typed: a transaction hash and a log index (the block is filled in later).

    Raises:
        InputError: the hash is not ``0x`` and 64 hex digits, or the index not a whole
            number from 0.
    """
    cleaned = tx_hash.strip() if isinstance(tx_hash, str) else ""
    if not _TX_HASH.fullmatch(cleaned):
        raise InputError("a transaction hash is 0x and 64 hex digits")
    text = str(log_index).strip()
    if not text.isdigit() or int(text) >= 2**32:
        raise InputError("a log index is a whole number from 0")
    return LedgerProof(tx_hash=cleaned.lower(), block=0, log_index=int(text))


def check_on_ledger(tutela: Tutela, actor: Actor, case: Case, proof: LedgerProof) -> LedgerCheck:
    """Reads the proof's event from the node and compares it with the index's row.

    ``proof.block`` 0 means "not known": the block is then not compared. Writes the audit
    entry "investigate-check" (subject: the case number).

    Raises:
        InputError: a malformed transaction hash or log index.
        ChainUnavailableError: the node is not answering.
    """
    checked = parse_proof(proof.tx_hash, proof.log_index)
    found = _check(tutela, checked, proof.block)
    with tutela.database.transaction() as session:
        audit_read(
            session,
            actor,
            "investigate-check",
            case.number,
            {"case": case.number, "criteria": ["tx_hash", "log_index"]},
            private={
                "reason": case.reason,
                "criteria": {"tx_hash": checked.tx_hash, "log_index": checked.log_index},
            },
            master_key=tutela.master_key,
        )
    return found


def _check(tutela: Tutela, proof: LedgerProof, claimed_block: int) -> LedgerCheck:
    def read_receipt() -> Any:
        # Caught before rpc(), which would make "no such transaction" a node failure.
        try:
            return tutela.w3.eth.get_transaction_receipt(HexBytes(proof.tx_hash))
        except TransactionNotFound:
            return None

    receipt = rpc(read_receipt)
    if receipt is None:
        return LedgerCheck(False, None, None, (f"transaction {proof.tx_hash} is not on the chain",))
    block = int(receipt["blockNumber"])
    differences: list[str] = []
    if claimed_block and claimed_block != block:
        differences.append(f"the proof names block {claimed_block}; the chain has it in {block}")
    if int(receipt["status"]) != 1:
        differences.append("the transaction failed on the chain: it recorded nothing")
    log = next((item for item in receipt["logs"] if int(item["logIndex"]) == proof.log_index), None)
    if log is None:
        differences.append(f"the transaction has no event at log index {proof.log_index}")
        return LedgerCheck(False, block, None, tuple(differences))
    try:
        event = decode_log(_raw(log), load_target(tutela.database).contracts)
    except ChainError:
        differences.append("that event was not emitted by this registry's contracts")
        return LedgerCheck(False, block, None, tuple(differences))
    header = rpc(lambda: tutela.w3.eth.get_block(block))
    table, chain_row = row_of(event, int(header["timestamp"]))
    with tutela.database.reading() as session:
        stored = session.execute(
            select(table).where(
                table.c.tx_hash == event.tx_hash, table.c.log_index == event.log_index
            )
        ).first()
    if stored is None:
        differences.append(f"the index holds no {event.name} event for this transaction and log")
    else:
        differences += _compare(table, dict(stored._mapping), chain_row)
    return LedgerCheck(not differences, block, event.name, tuple(differences))


def _compare(table: Table, index: dict[str, Any], chain: dict[str, Any]) -> list[str]:
    skipped = _IGNORED | _DERIVED.get(table.name, frozenset())
    return [
        f"{name.replace('_', ' ')}: the index says {_shown(index.get(name))}, "
        f"the chain says {_shown(value)}"
        for name, value in chain.items()
        if name not in skipped and _normal(index.get(name)) != _normal(value)
    ]


def _normal(value: Any) -> Any:
    # Hashes and addresses compare without regard to case; booleans as stored by SQLite.
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bool):
        return int(value)
    return value


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def _raw(log: Any) -> dict[str, Any]:
    """A web3 receipt log in the raw JSON-RPC form the indexer's decoder reads."""
    return {
        "address": str(log["address"]),
        "topics": ["0x" + bytes(topic).hex() for topic in log["topics"]],
        "data": "0x" + bytes(log["data"]).hex(),
        "blockNumber": hex(int(log["blockNumber"])),
        "blockHash": "0x" + bytes(log["blockHash"]).hex(),
        "transactionHash": "0x" + bytes(log["transactionHash"]).hex(),
        "logIndex": hex(int(log["logIndex"])),
    }
