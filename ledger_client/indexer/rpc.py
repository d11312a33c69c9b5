"""The few JSON-RPC calls the indexer makes, raw (no web3 formatters on the hot path)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint

from ledger_client.errors import ChainError, ChainUnavailableError, ConfigurationError

logger = logging.getLogger(__name__)

BATCH = 200  # headers asked for in one batched request
# Words nodes use when a log query is too large: geth/Infura "query returned more than 10000
# results", Besu "exceeds maximum range limit", Alchemy "Log response size exceeded", ...
_TOO_MANY = ("more than", "too many", "limit", "exceed", "too large", "range", "size")


class RpcError(ChainError):
    """The node answered a JSON-RPC error."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"the node refused {method}: {message} ({code})")
        self.code = code
        self.node_message = message


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    time: int


class Rpc:
    """Raw requests through the web3 provider, whichever it is (HTTP or embedded)."""

    def __init__(self, w3: Web3) -> None:
        if not isinstance(w3.provider, JSONBaseProvider):
            raise ConfigurationError("the indexer needs a JSON-RPC provider (HTTP or embedded)")
        self._provider = w3.provider

    def call(self, method: str, params: list[Any]) -> Any:
        """One request; its ``result``.

        Raises:
            RpcError: the node answered an error.
            ChainUnavailableError: the node is not answering.
        """
        try:
            response: Any = self._provider.make_request(RPCEndpoint(method), params)
        except OSError as error:
            raise ChainUnavailableError(f"the node is not answering: {error}") from error
        return _result(method, response)

    def head(self) -> int:
        return int(self.call("eth_blockNumber", []), 16)

    def header(self, number: int) -> Header | None:
        return _header(self.call("eth_getBlockByNumber", [hex(number), False]))

    def headers(self, numbers: Iterable[int]) -> dict[int, Header | None]:
        """Headers by number, in batches; ``None`` for a block the chain does not have."""
        wanted = sorted(set(numbers))
        found: dict[int, Header | None] = {}
        for start in range(0, len(wanted), BATCH):
            part = wanted[start : start + BATCH]
            requests = [
                (RPCEndpoint("eth_getBlockByNumber"), [hex(number), False]) for number in part
            ]
            try:
                responses: Any = self._provider.make_batch_request(requests)
            except OSError as error:
                raise ChainUnavailableError(f"the node is not answering: {error}") from error
            if not isinstance(responses, list) or len(responses) != len(part):
                raise ChainError("the node answered a batch of block requests malformed")
            for number, response in zip(part, responses, strict=True):
                header = _header(_result("eth_getBlockByNumber", response))
                if header is not None and header.number != number:
                    raise ChainError(f"the node answered block {header.number} for {number}")
                found[number] = header
        return found

    def logs(self, addresses: list[str], first: int, last: int) -> list[dict[str, Any]]:
        """``eth_getLogs`` of the addresses over ``[first, last]``.

        Raises:
            RpcError: the node refused, ``too_many`` tells whether a smaller range may pass.
        """
        spec = {"address": addresses, "fromBlock": hex(first), "toBlock": hex(last)}
        result = self.call("eth_getLogs", [spec])
        if not isinstance(result, list):
            raise ChainError("the node answered eth_getLogs with something else than a list")
        return result


def too_many(error: RpcError) -> bool:
    """Whether a log query failed for its size, so that a smaller block range may pass."""
    text = error.node_message.lower()
    return error.code in (-32005, -32602, -32000, -32603) and any(w in text for w in _TOO_MANY)


def _result(method: str, response: Any) -> Any:
    if not isinstance(response, dict):
        raise ChainError(f"the node answered {method} with something else than JSON-RPC")
    if response.get("error"):
        error = response["error"]
        code = int(error.get("code", 0)) if isinstance(error, dict) else 0
        message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
        raise RpcError(method, code, message)
    return response.get("result")


def _header(block: Any) -> Header | None:
    if block is None:
        return None
    return Header(
        number=int(block["number"], 16),
        hash=str(block["hash"]).lower(),
        parent_hash=str(block["parentHash"]).lower(),
        time=int(block["timestamp"], 16),
    )
