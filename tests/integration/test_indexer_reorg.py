"""Reorganisations, made by anvil's ``anvil_reorg``: the index follows the chain back and forth.

``anvil_reorg [depth, [[tx, offset], ...]]`` replaces the last ``depth`` blocks with new ones
holding the given transactions (raw or as requests) at ``offset`` among them. It needs the
states of those blocks, which the shared node's ``--prune-history`` (keep none) drops: this
module runs its own node keeping 64.
"""

from __future__ import annotations

import random
import string
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from web3 import Web3
from web3.types import RPCEndpoint

from ledger_client.chain.anvil import ANVIL, free_port, wait_for_rpc
from ledger_client.indexer.sync import Reorganisation, index_once
from ledger_client.indexer.target import load_target
from ledger_client.indexer.verify import verify_index
from ledger_client.store.database import Database
from tests.conftest import FAST_KEYSTORES, World, _world, make_settings
from tests.integration.test_indexer import chain_history, index_history, short_story

pytestmark = pytest.mark.anvil


@contextmanager
def anvil_keeping_states(states: int = 64) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="anvil-cache-") as cache:
        port = free_port()
        command = [str(ANVIL), "--port", str(port), "--host", "127.0.0.1", "--silent"]
        command += ["--cache-path", cache, "--prune-history", str(states)]
        node = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_rpc(url)
            yield url
        finally:
            node.terminate()
            node.wait(timeout=10)


@pytest.fixture(scope="module")
def reorg_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with anvil_keeping_states() as url, pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("TUTELA_KEYSTORE_WORK_FACTOR", FAST_KEYSTORES)
        for name in ("TUTELA_DATA_DIR", "TUTELA_CHAIN_URL", "TUTELA_DATABASE_URL", "TUTELA_ENV"):
            monkeypatch.delenv(name, raising=False)
        data_dir = tmp_path_factory.mktemp("reorg") / "data"
        yield from _world(make_settings(data_dir, url, monkeypatch))


@pytest.fixture
def index(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    try:
        database.migrate()
        yield database
    finally:
        database.dispose()


def rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    response: Any = w3.provider.make_request(RPCEndpoint(method), params)
    assert "error" not in response, response
    return response["result"]


def raw_transactions(w3: Web3, first: int, last: int) -> list[str]:
    """The signed transactions of blocks ``first`` to ``last``, in chain order."""
    raws = []
    for number in range(first, last + 1):
        for tx in rpc(w3, "eth_getBlockByNumber", [hex(number), False])["transactions"]:
            raws.append(rpc(w3, "eth_getRawTransactionByHash", [tx]))
    return raws


def events_in(w3: Web3, addresses: list[str], first: int, last: int) -> int:
    spec = {"address": addresses, "fromBlock": hex(first), "toBlock": hex(last)}
    return len(rpc(w3, "eth_getLogs", [spec]))


def same_story(history: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """A history without block numbers: request, status, transactions, decisions' content."""
    return [
        (h[0], h[5], h[4], h[8], [{k: v for k, v in d.items() if k != "block"} for d in h[6]])
        for h in history
    ]


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_the_index_follows_a_reorganisation_and_what_is_re_mined_comes_back(
    reorg_world: World, index: Database, depth: int
) -> None:
    tutela = reorg_world.tutela
    w3 = tutela.w3
    card = short_story(tutela, "Lupu" + "".join(random.choices(string.ascii_lowercase, k=6)))
    target = load_target(tutela.database)
    index_once(index, w3, target)
    before = index_history(index, tutela, card)
    assert before == chain_history(tutela, card)
    head = w3.eth.block_number
    raws = raw_transactions(w3, head - depth + 1, head)
    addresses = [target.registry_address, target.ledger_address]
    replaced = events_in(w3, addresses, head - depth + 1, head)
    assert replaced > 0

    # The same transactions, mined again into the last of the new blocks.
    rpc(w3, "anvil_reorg", [depth, [[raw, depth - 1] for raw in raws]])
    report = index_once(index, w3, target)
    assert report.reorganisations == (Reorganisation(head - depth, depth, replaced),)
    moved = index_history(index, tutela, card)
    assert moved == chain_history(tutela, card)
    assert same_story(moved) == same_story(before)
    assert verify_index(index, w3, target).matches

    # Dropped: what the chain lost, the index loses.
    rpc(w3, "anvil_reorg", [depth, []])
    assert index_once(index, w3, target).reorganisations[0].fork_block == head - depth
    dropped = index_history(index, tutela, card)
    assert dropped == chain_history(tutela, card)
    assert dropped != moved
    assert verify_index(index, w3, target).matches

    # Sent again: it all comes back, in new blocks.
    for raw in raws:
        # anvil answers with the hash before the block is sealed: wait for the receipt.
        w3.eth.wait_for_transaction_receipt(rpc(w3, "eth_sendRawTransaction", [raw]), timeout=10)
    index_once(index, w3, target)
    again = index_history(index, tutela, card)
    assert again == chain_history(tutela, card)
    assert same_story(again) == same_story(before)
    assert verify_index(index, w3, target).matches
