"""JSON-RPC values of the embedded chain: parameters in, geth/anvil-shaped results out.

Results are built field by field from py-evm objects, in the order and shapes anvil 1.5.1
returns them (hex quantities without leading zeros, ``0x`` data, lower-case addresses,
``null`` for a missing ``to``), so that web3's formatters treat the embedded chain and a
real node alike. eth-tester's serializers are not used: they return Python values with
eth-tester's own quirks (per-receipt log indexes, a 32-byte padded ``extraData``, an
integer bloom) that would each need undoing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rlp
from eth.abc import BlockAPI, BlockHeaderAPI, ChainDatabaseAPI, ReceiptAPI, SignedTransactionAPI
from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_typing import Address, Hash32
from eth_utils.crypto import keccak

from ledger_client.chain.kvstore import LogRow

ZERO_ADDRESS = b"\x00" * 20
_MISSING: Any = object()
_ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
_PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
# anvil 1.5.1's wording, so that messages match across both chains.
_PANICS = {
    0x00: "generic/unspecified error",
    0x01: "assertion failed",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "failed to convert value into enum type",
    0x22: "storage byte array incorrectly encoded",
    0x31: "called `.pop()` on an empty array",
    0x32: "array out-of-bounds access",
    0x41: "memory allocation error",
    0x51: "called an invalid internal function",
}


class ParamError(ValueError):
    """A JSON-RPC parameter is missing or malformed (answered with code -32602)."""


# -- parameters ------------------------------------------------------------------------------


def arg(params: Sequence[Any], index: int, name: str, default: Any = _MISSING) -> Any:
    """Return positional parameter ``index`` or ``default``; raise ParamError if required."""
    if index < len(params) and params[index] is not None:
        return params[index]
    if default is _MISSING:
        raise ParamError(f"missing value for required argument {name}")
    return default


def quantity(value: Any) -> int:
    """Parse a hex quantity (a plain integer is tolerated, as anvil does)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value[:2] in ("0x", "0X") and len(value) > 2:
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise ParamError(f"invalid quantity {value!r}")


def block_number(tag: Any, head: int) -> int:
    """Resolve a block tag or hex number against the head (every tag but earliest is head)."""
    if tag in ("latest", "safe", "finalized", "pending"):
        return head
    if tag == "earliest":
        return 0
    return quantity(tag)


def data_bytes(value: Any) -> bytes:
    """Parse ``0x``-prefixed hex data."""
    if not isinstance(value, str) or value[:2] not in ("0x", "0X") or len(value) % 2:
        raise ParamError(f"invalid hex data {str(value)[:80]!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as error:
        raise ParamError(f"invalid hex data {value[:80]!r}") from error


def _sized(value: Any, size: int, what: str) -> bytes:
    result = data_bytes(value)
    if len(result) != size:
        raise ParamError(f"invalid {what} {value!r}")
    return result


def address(value: Any) -> Address:
    """Parse a 20-byte address (any case: the node does not enforce checksums)."""
    return Address(_sized(value, 20, "address"))


def hash32(value: Any) -> Hash32:
    """Parse a 32-byte hash."""
    return Hash32(_sized(value, 32, "hash"))


def base_fee(header: BlockHeaderAPI) -> int:
    """The header's base fee (every block of a London-or-later chain has one)."""
    return header.base_fee_per_gas or 0


def addresses(value: Any) -> tuple[bytes, ...]:
    """Parse a log filter's ``address``: absent, one address, or a list (OR)."""
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(address(item) for item in value)
    return (address(value),)


def topic_alternatives(value: Any) -> tuple[bytes, ...]:
    """Parse one position of a log filter's ``topics``; ``()`` is the wildcard.

    Like geth: ``null``, an empty list, or a list containing ``null`` match anything.
    """
    if value is None:
        return ()
    if isinstance(value, list):
        if any(item is None for item in value):
            return ()
        return tuple(hash32(item) for item in value)
    return (hash32(value),)


def call_transaction(call: dict[str, Any]) -> dict[str, Any]:
    """Turn an eth_call/eth_estimateGas object into eth-tester's transaction dict."""
    tx: dict[str, Any] = {"from": address(call["from"]) if call.get("from") else ZERO_ADDRESS}
    tx["to"] = address(call["to"]) if call.get("to") else b""
    payload, legacy = call.get("input"), call.get("data")
    if payload is not None and legacy is not None and payload != legacy:
        raise ParamError('both "data" and "input" are set and not equal')
    payload = legacy if payload is None else payload
    tx["data"] = data_bytes(payload) if payload is not None else b""
    for key, name in (
        ("value", "value"),
        ("gas", "gas"),
        ("nonce", "nonce"),
        ("gasPrice", "gas_price"),
        ("maxFeePerGas", "max_fee_per_gas"),
        ("maxPriorityFeePerGas", "max_priority_fee_per_gas"),
    ):
        if call.get(key) is not None:
            tx[name] = quantity(call[key])
    if "max_priority_fee_per_gas" in tx and "max_fee_per_gas" not in tx:
        tx["max_fee_per_gas"] = tx["max_priority_fee_per_gas"]
    if "max_fee_per_gas" in tx and "max_priority_fee_per_gas" not in tx:
        tx["max_priority_fee_per_gas"] = 0
    if call.get("accessList"):
        tx["access_list"] = tuple(
            (address(item["address"]), tuple(quantity(k) for k in item.get("storageKeys", ())))
            for item in call["accessList"]
        )
    return tx


# -- results ---------------------------------------------------------------------------------


def data(value: bytes) -> str:
    """Encode bytes as ``0x`` hex data."""
    return "0x" + value.hex()


def _word(value: int) -> str:
    return data(value.to_bytes(32, "big"))


def _bloom(value: int) -> str:
    return data(value.to_bytes(256, "big"))


def _opt_address(value: bytes) -> str | None:
    return data(value) if value else None


def block(blk: BlockAPI, full: bool) -> dict[str, Any]:
    """A block as eth_getBlockBy* return it (post-merge: no uncles, zero difficulty)."""
    header = blk.header
    result: dict[str, Any] = {
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "sha3Uncles": data(header.uncles_hash),
        "miner": data(header.coinbase),
        "stateRoot": data(header.state_root),
        "transactionsRoot": data(header.transaction_root),
        "receiptsRoot": data(header.receipt_root),
        "logsBloom": _bloom(header.bloom),
        "difficulty": hex(header.difficulty),
        "number": hex(header.block_number),
        "gasLimit": hex(header.gas_limit),
        "gasUsed": hex(header.gas_used),
        "timestamp": hex(header.timestamp),
        "extraData": data(header.extra_data),
        "mixHash": data(header.mix_hash),
        "nonce": data(header.nonce),
        "baseFeePerGas": hex(base_fee(header)),
        "withdrawalsRoot": data(header.withdrawals_root or b""),
    }
    for field, key in (("blob_gas_used", "blobGasUsed"), ("excess_blob_gas", "excessBlobGas")):
        if hasattr(header, field):
            result[key] = hex(getattr(header, field))
    for field, key in (
        ("parent_beacon_block_root", "parentBeaconBlockRoot"),
        ("requests_hash", "requestsHash"),
    ):
        if hasattr(header, field):
            result[key] = data(getattr(header, field))
    result["totalDifficulty"] = "0x0"
    result["size"] = hex(len(rlp.encode(blk)))
    result["uncles"] = []
    result["transactions"] = [
        transaction(blk, index) if full else data(tx.hash)
        for index, tx in enumerate(blk.transactions)
    ]
    result["withdrawals"] = []
    return result


def _effective_gas_price(tx: SignedTransactionAPI, header: BlockHeaderAPI) -> int:
    if getattr(tx, "type_id", 0) >= 2:
        return min(tx.max_fee_per_gas, tx.max_priority_fee_per_gas + base_fee(header))
    return tx.gas_price


def transaction(blk: BlockAPI, index: int) -> dict[str, Any]:
    """A mined transaction as eth_getTransactionByHash returns it."""
    tx = blk.transactions[index]
    kind = getattr(tx, "type_id", 0)
    result: dict[str, Any] = {"type": hex(kind)}
    if tx.chain_id is not None:
        result["chainId"] = hex(tx.chain_id)
    result["nonce"] = hex(tx.nonce)
    result["gas"] = hex(tx.gas)
    if kind >= 2:
        result["maxFeePerGas"] = hex(tx.max_fee_per_gas)
        result["maxPriorityFeePerGas"] = hex(tx.max_priority_fee_per_gas)
    result["to"] = _opt_address(tx.to)
    result["value"] = hex(tx.value)
    if kind >= 1:
        result["accessList"] = [
            {"address": data(addr), "storageKeys": [_word(key) for key in keys]}
            for addr, keys in tx.access_list
        ]
    if kind == 4:
        result["authorizationList"] = [
            {
                "chainId": hex(auth.chain_id),
                "address": data(auth.address),
                "nonce": hex(auth.nonce),
                "yParity": hex(auth.y_parity),
                "r": hex(auth.r),
                "s": hex(auth.s),
            }
            for auth in tx.authorization_list
        ]
    result["input"] = data(tx.data)
    result["r"] = hex(tx.r)
    result["s"] = hex(tx.s)
    if kind >= 1:
        result["yParity"] = hex(tx.y_parity)
        result["v"] = hex(tx.y_parity)
    else:
        result["v"] = hex(getattr(tx, "v"))  # noqa: B009 (legacy transactions only)
    result["hash"] = data(tx.hash)
    result["blockHash"] = data(blk.hash)
    result["blockNumber"] = hex(blk.number)
    result["transactionIndex"] = hex(index)
    result["from"] = data(tx.sender)
    result["gasPrice"] = hex(_effective_gas_price(tx, blk.header))
    return result


def receipt(blk: BlockAPI, receipts: Sequence[ReceiptAPI], index: int) -> dict[str, Any]:
    """A receipt as eth_getTransactionReceipt returns it."""
    tx, rcpt = blk.transactions[index], receipts[index]
    previous_gas = receipts[index - 1].gas_used if index else 0
    logs = [log(row) for row in log_rows(blk, receipts) if row.tx_index == index]
    # CREATE's address: the last 20 bytes of keccak(rlp([sender, nonce])).
    creates = keccak(rlp.encode([tx.sender, tx.nonce]))[12:] if not tx.to else b""
    return {
        "type": hex(getattr(tx, "type_id", 0)),
        # EIP-658: the receipt's former state root holds 1 for success, empty for failure.
        "status": "0x1" if rcpt.state_root == b"\x01" else "0x0",
        "cumulativeGasUsed": hex(rcpt.gas_used),
        "logs": logs,
        "logsBloom": _bloom(rcpt.bloom),
        "transactionHash": data(tx.hash),
        "transactionIndex": hex(index),
        "blockHash": data(blk.hash),
        "blockNumber": hex(blk.number),
        "gasUsed": hex(rcpt.gas_used - previous_gas),
        "effectiveGasPrice": hex(_effective_gas_price(tx, blk.header)),
        "from": data(tx.sender),
        "to": _opt_address(tx.to),
        "contractAddress": _opt_address(creates),
    }


def log_rows(blk: BlockAPI, receipts: Sequence[ReceiptAPI]) -> list[LogRow]:
    """Every log of a block, with its block-wide index (as the ``logs`` table holds them)."""
    rows: list[LogRow] = []
    for tx_index, (tx, rcpt) in enumerate(zip(blk.transactions, receipts, strict=True)):
        rows.extend(
            LogRow(
                block_number=blk.number,
                log_index=len(rows) + offset,
                block_hash=blk.hash,
                block_timestamp=blk.header.timestamp,
                tx_index=tx_index,
                tx_hash=tx.hash,
                address=entry.address,
                topics=tuple(topic.to_bytes(32, "big") for topic in entry.topics),
                data=entry.data,
            )
            for offset, entry in enumerate(rcpt.logs)
        )
    return rows


def log(row: LogRow) -> dict[str, Any]:
    """A log as eth_getLogs and receipts return it."""
    return {
        "address": data(row.address),
        "topics": [data(topic) for topic in row.topics],
        "data": data(row.data),
        "blockHash": data(row.block_hash),
        "blockNumber": hex(row.block_number),
        "blockTimestamp": hex(row.block_timestamp),
        "transactionHash": data(row.tx_hash),
        "transactionIndex": hex(row.tx_index),
        "logIndex": hex(row.log_index),
        "removed": False,
    }


def rewards(
    blk: BlockAPI, header: BlockHeaderAPI, percentiles: Sequence[float], chaindb: ChainDatabaseAPI
) -> list[str]:
    """eth_feeHistory rewards: the tip paid at each gas-weighted percentile of a block."""
    if not blk.transactions:
        return ["0x0"] * len(percentiles)
    receipts = blk.get_receipts(chaindb)
    used, previous = [], 0
    for rcpt in receipts:
        used.append(rcpt.gas_used - previous)
        previous = rcpt.gas_used
    tips = sorted(
        (_effective_gas_price(tx, header) - base_fee(header), gas)
        for tx, gas in zip(blk.transactions, used, strict=True)
    )
    result = []
    for percentile in percentiles:
        threshold, cumulative = header.gas_used * percentile / 100, 0
        chosen = tips[-1][0]
        for tip, gas in tips:
            cumulative += gas
            if cumulative >= threshold:
                chosen = tip
                break
        result.append(hex(chosen))
    return result


def revert_message(output: bytes) -> str:
    """The message anvil 1.5.1 gives a revert with this data (web3 reads it for Error)."""
    if not output:
        return "execution reverted"
    selector, payload = output[:4], output[4:]
    if selector == _ERROR_SELECTOR and payload:
        try:
            (reason,) = abi_decode(["bytes"], payload)
        except DecodingError:
            pass
        else:
            return f"execution reverted: {reason.decode('utf-8', 'replace')}"
    if selector == _PANIC_SELECTOR and len(payload) == 32:
        code = int.from_bytes(payload, "big")
        return f"execution reverted: panic: {_PANICS.get(code, 'unknown code')} (0x{code:02x})"
    if len(output) < 4:
        return f"execution reverted: custom error bytes {data(output)}"
    message = f"execution reverted: custom error {data(selector)}"
    return f"{message}: {payload.hex()}" if payload else message
