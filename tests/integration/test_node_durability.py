"""The embedded node as a real process: nothing answered is lost to kill -9 or SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from ledger_client.chain.node import (
    NODE_FILE,
    create_embedded,
    open_embedded,
    run_node,
)
from ledger_client.chain.provider import EmbeddedProvider
from ledger_client.errors import ChainUnavailableError

ALICE = Account.from_key(keccak(b"tutela durability alice"))
BOB = "0x" + "b0" * 20
TOPIC0 = keccak(b"Logged(bytes32,bytes32,bytes)")
# See test_embedded_chain.py: LOG3(TOPIC0, calldata[0:32], calldata[32:64], calldata[64:]).
LOGGER = bytes.fromhex(
    "60003560005536604090038060406000376020356000357f" + TOPIC0.hex() + "836000a300"
)
LOGGER_INIT = bytes([0x60, len(LOGGER), 0x80, 0x60, 0x0B, 0x60, 0, 0x39, 0x60, 0, 0xF3]) + LOGGER


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Node:
    """``python -m ledger_client.chain.node`` in a subprocess."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledger_client.chain.node",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        # The node prints its URL once it listens and node.json is written.
        timer = threading.Timer(30, self.process.kill)
        timer.start()
        try:
            self.url = self.process.stdout.readline().strip()
        finally:
            timer.cancel()
        assert self.url.startswith("http://127.0.0.1:"), "the node did not start"
        self.w3 = Web3(HTTPProvider(self.url))

    def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=20)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    create_embedded(data, {ALICE.address: 10**24})
    return data


@pytest.fixture
def node(data_dir: Path) -> Iterator[Node]:
    running = Node(data_dir, free_port())
    yield running
    if running.process.poll() is None:
        running.stop(signal.SIGKILL)


def raw_transfer(w3: Web3, value: int) -> bytes:
    return sign(w3, BOB, b"", value)


def sign(w3: Web3, to: str | None, data: bytes, value: int) -> bytes:
    tx: dict[str, Any] = {
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(ALICE.address),
        "gas": 200_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
        "value": value,
        "data": data,
    }
    if to is not None:
        tx["to"] = Web3.to_checksum_address(to)
    return bytes(ALICE.sign_transaction(tx).raw_transaction)


def transact_receipt(w3: Web3, tx_hash: bytes) -> dict[str, Any]:
    """The receipt of a sent transaction, as raw JSON."""
    w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.01)
    receipt = w3.provider.make_request("eth_getTransactionReceipt", ["0x" + tx_hash.hex()])
    return dict(receipt["result"])


def transact(w3: Web3, to: str | None, data: bytes = b"", value: int = 0) -> dict[str, Any]:
    """Send a signed transaction and return its receipt as raw JSON."""
    return transact_receipt(w3, w3.eth.send_raw_transaction(sign(w3, to, data, value)))


def snapshot(w3: Web3, receipts: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything a restart must keep, as the node's raw JSON answers."""
    rpc = w3.provider.make_request
    height = w3.eth.block_number
    return {
        "blocks": [
            rpc("eth_getBlockByNumber", [hex(n), True])["result"] for n in range(height + 1)
        ],
        "receipts": [
            rpc("eth_getTransactionReceipt", [r["transactionHash"]])["result"] for r in receipts
        ],
        "balances": [rpc("eth_getBalance", [a, "latest"])["result"] for a in (ALICE.address, BOB)],
        "logs": rpc("eth_getLogs", [{"fromBlock": "earliest"}])["result"],
    }


def fill(w3: Web3) -> list[dict[str, Any]]:
    receipts = [transact(w3, None, LOGGER_INIT)]
    logger_address = receipts[0]["contractAddress"]
    for n in range(4):
        receipts.append(transact(w3, BOB, value=n + 1))
        payload = n.to_bytes(32, "big") + b"\x07" * 32 + b"event %d" % n
        receipts.append(transact(w3, logger_address, payload))
    return receipts


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill -9", "SIGTERM"])
def test_a_restarted_node_has_every_block_receipt_balance_and_log(
    data_dir: Path, node: Node, sig: int
) -> None:
    receipts = fill(node.w3)
    receipts.append(transact(node.w3, BOB, value=5))
    before = snapshot(node.w3, receipts)
    assert len(before["blocks"]) == 11
    assert len(before["logs"]) == 4

    code = node.stop(sig)
    if sig == signal.SIGTERM:
        assert code == 0
        assert not (data_dir / NODE_FILE).exists()
    else:
        assert (data_dir / NODE_FILE).exists()  # stale: nobody removed it

    restarted = Node(data_dir, free_port())
    try:
        assert snapshot(restarted.w3, receipts) == before
        after = transact(restarted.w3, BOB, value=6)
        assert after["status"] == "0x1"
        assert int(after["blockNumber"], 16) == 11
        assert restarted.w3.eth.get_balance(Web3.to_checksum_address(BOB)) == sum(range(1, 7))
    finally:
        restarted.stop(signal.SIGTERM)


def test_kill_9_right_after_the_hash_is_answered_loses_nothing(data_dir: Path, node: Node) -> None:
    # No receipt asked for: answering the hash is the promise that the block is on disk.
    tx_hash = node.w3.eth.send_raw_transaction(raw_transfer(node.w3, value=1))
    node.stop(signal.SIGKILL)
    restarted = Node(data_dir, free_port())
    try:
        receipt = restarted.w3.eth.get_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        assert receipt["blockNumber"] == 1
    finally:
        restarted.stop(signal.SIGTERM)


def test_a_second_node_on_the_same_folder_is_refused(data_dir: Path, node: Node) -> None:
    with pytest.raises(ChainUnavailableError, match=f"process {node.process.pid} \\(node\\)"):
        run_node(data_dir, port=0)
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "ledger_client.chain.node",
            "--data-dir",
            str(data_dir),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert "another process holds the chain" in second.stderr


def test_open_embedded_uses_the_running_node(data_dir: Path, node: Node) -> None:
    with open_embedded(data_dir) as session:
        assert session.url == node.url
        assert session.chain is None
        assert isinstance(session.provider, HTTPProvider)
        transact(Web3(session.provider), BOB, value=1)
    assert node.w3.eth.block_number == 1


def test_open_embedded_opens_in_process_when_no_node_runs(data_dir: Path) -> None:
    # A node.json left by a killed node: its pid is gone, so it is ignored.
    (data_dir / NODE_FILE).write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": 2**22 + 1}))
    with open_embedded(data_dir) as session:
        assert session.url is None
        assert session.chain is not None
        assert isinstance(session.provider, EmbeddedProvider)
        transact(Web3(session.provider), BOB, value=1)
        # While this process holds the chain, others wait and then give up, saying who.
        with pytest.raises(ChainUnavailableError, match=f"process {os.getpid()} \\(in-process\\)"):
            open_embedded(data_dir, lock_timeout=0.3)
        with pytest.raises(ChainUnavailableError, match="another process holds the chain"):
            run_node(data_dir, port=0)
    with open_embedded(data_dir) as session:
        assert Web3(session.provider).eth.block_number == 1


def test_run_node_in_a_thread_stops_on_its_event(data_dir: Path) -> None:
    stop, urls = threading.Event(), []
    thread = threading.Thread(
        target=run_node, args=(data_dir, "127.0.0.1", 0, urls.append), kwargs={"stop": stop}
    )
    thread.start()
    try:
        for _ in range(200):
            if urls:
                break
            stop.wait(0.05)
        assert urls, "the node did not start"
        with open_embedded(data_dir) as session:
            assert session.url == urls[0]
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert not (data_dir / NODE_FILE).exists()
