"""Batched JSON-RPC falls back to one call at a time where a provider has no batches."""

from __future__ import annotations

from typing import Any

from ledger_client.outbox.batching import Answer, call_many


class _OneAtATime:
    """A provider as web3's base class leaves it: no batch support."""

    def __init__(self) -> None:
        self.single_calls: list[str] = []

    def make_batch_request(self, requests: list[Any]) -> Any:
        # What web3's BaseProvider does; call_many must catch it and go one call at a time.
        raise NotImplementedError

    def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        self.single_calls.append(method)
        if method == "eth_fail":
            return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "no"}}
        return {"jsonrpc": "2.0", "id": 1, "result": f"{method}:{params[0]}"}


class _Web3:
    def __init__(self, provider: Any) -> None:
        self.provider = provider


class _RefusesBatches(_OneAtATime):
    """A node that answers a batch with one error object for the whole batch."""

    def make_batch_request(self, requests: list[Any]) -> Any:
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch"}}


def test_a_provider_without_batches_is_asked_one_call_at_a_time_in_order() -> None:
    provider = _OneAtATime()
    answers = call_many(_Web3(provider), [("eth_a", [1]), ("eth_fail", [2]), ("eth_b", [3])])  # type: ignore[arg-type]
    assert provider.single_calls == ["eth_a", "eth_fail", "eth_b"]
    assert answers[0] == Answer(result="eth_a:1")
    assert answers[1].error == {"code": -32000, "message": "no"}
    assert answers[2] == Answer(result="eth_b:3")


def test_a_refused_batch_is_sent_again_one_by_one() -> None:
    provider = _RefusesBatches()
    answers = call_many(_Web3(provider), [("eth_a", [1]), ("eth_b", [2])])  # type: ignore[arg-type]
    assert [a.result for a in answers] == ["eth_a:1", "eth_b:2"]
    assert provider.single_calls == ["eth_a", "eth_b"]
