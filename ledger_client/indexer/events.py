"""Lean decoding of raw ``eth_getLogs`` entries with ``eth_abi``.

web3's ``get_logs`` + ``process_log`` took 74 s over 100,000 events here, raw JSON-RPC and
``eth_abi`` 5.5 s: the indexer reads raw logs and decodes them against the artifacts' ABIs.
Values come out as the index stores them: ``bytesN`` as ``0x`` hex, addresses checksummed,
integers (enums included) as ``int``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from eth_abi.abi import decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger_client.contracts.artifacts import INDEXED_CONTRACT_NAMES, load_artifact
from ledger_client.errors import ChainError


@dataclass(frozen=True)
class EventSpec:
    """One event of one contract's ABI, ready to decode."""

    contract: str
    name: str
    topic0: str
    indexed: tuple[tuple[str, str], ...]  # (name, type), in topic order
    data: tuple[tuple[str, str], ...]  # (name, type), in data order


@dataclass(frozen=True)
class DecodedEvent:
    contract: str
    name: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    block_time: int | None  # from the log when the node gives it (anvil, geth, ours)
    tx_hash: str
    log_index: int


@cache
def event_specs() -> dict[str, EventSpec]:
    """Every event of both contracts by its topic0 (``0x`` hex of the signature's hash).

    Both contracts inherit OpenZeppelin's events; the same signature decodes the same way
    whichever contract emitted it, and ``decode_log`` names the contract from the address.
    """
    specs: dict[str, EventSpec] = {}
    for contract in INDEXED_CONTRACT_NAMES:
        for item in load_artifact(contract).abi:
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            inputs = item["inputs"]
            signature = f"{item['name']}({','.join(_canonical(i) for i in inputs)})"
            topic0 = "0x" + keccak(text=signature).hex()
            specs.setdefault(
                topic0,
                EventSpec(
                    contract=contract,
                    name=item["name"],
                    topic0=topic0,
                    indexed=tuple((i["name"], i["type"]) for i in inputs if i["indexed"]),
                    data=tuple((i["name"], i["type"]) for i in inputs if not i["indexed"]),
                ),
            )
    return specs


def decode_log(log: dict[str, Any], contracts: dict[str, str]) -> DecodedEvent:
    """Decodes one raw log; ``contracts`` maps lower-case addresses to contract names.

    Raises:
        ChainError: the log comes from another address or carries an event the artifacts
            do not know (they are stale: the index would silently miss it).
    """
    address = str(log["address"]).lower()
    contract = contracts.get(address)
    topics: list[str] = log["topics"]
    spec = event_specs().get(topics[0].lower()) if topics else None
    if contract is None or spec is None:
        raise ChainError(
            f"log {log.get('transactionHash')}:{log.get('logIndex')} from {address} is no "
            "event of the deployed contracts' ABI: are the artifacts stale?"
        )
    args: dict[str, Any] = {}
    for (name, kind), topic in zip(spec.indexed, topics[1:], strict=True):
        args[name] = _value(kind, decode([kind], _bytes(topic))[0])
    if spec.data:
        values = decode([kind for _, kind in spec.data], _bytes(log["data"]))
        for (name, kind), value in zip(spec.data, values, strict=True):
            args[name] = _value(kind, value)
    timestamp = log.get("blockTimestamp")
    return DecodedEvent(
        contract=contract,
        name=spec.name,
        args=args,
        block_number=int(log["blockNumber"], 16),
        block_hash=str(log["blockHash"]).lower(),
        block_time=int(timestamp, 16) if timestamp else None,
        tx_hash=str(log["transactionHash"]).lower(),
        log_index=int(log["logIndex"], 16),
    )


def _canonical(item: dict[str, Any]) -> str:
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical(c) for c in item["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def _value(kind: str, value: Any) -> Any:
    if kind == "address":
        return checksum(value)
    if kind.startswith("bytes"):
        return "0x" + bytes(value).hex()
    return value


@lru_cache(maxsize=4096)
def checksum(address: str) -> str:
    return str(to_checksum_address(address))


def _bytes(text: str) -> bytes:
    return bytes.fromhex(text[2:] if text.startswith(("0x", "0X")) else text)
