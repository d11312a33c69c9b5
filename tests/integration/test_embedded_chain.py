"""The embedded chain through web3, in process and over HTTP, and its parity with anvil."""

from __future__ import annotations

import http.client
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import TxReceipt

from ledger_client.chain.anvil import DEV_PRIVATE_KEY
from ledger_client.chain.embedded import EmbeddedChain
from ledger_client.chain.evm import JsonRpcError
from ledger_client.chain.provider import EmbeddedProvider
from ledger_client.chain.rpc_server import MAX_REQUEST_BYTES, serve
from ledger_client.errors import ChainError, ConfigurationError

ALICE = Account.from_key(keccak(b"tutela test alice"))
BOB = Account.from_key(keccak(b"tutela test bob"))
POOR = Account.from_key(keccak(b"tutela test poor"))
ETHER = 10**18

# Hand-written contracts, so that these tests do not depend on the Solidity build.
TOPIC0 = keccak(b"Logged(bytes32,bytes32,bytes)")
# Stores calldata[0:32] in slot 0, then LOG3(topic0=TOPIC0, calldata[0:32], calldata[32:64])
# with calldata[64:] as the log's data.
LOGGER = bytes.fromhex(
    "60003560005536604090038060406000376020356000357f" + TOPIC0.hex() + "836000a300"
)
# Reverts with its calldata as the revert data.
REVERTER = bytes.fromhex("366000600037366000fd")
# Returns (block.timestamp, block.number).
CLOCK = bytes.fromhex("4260005243602052604060" + "00f3")


def init_code(runtime: bytes) -> bytes:
    """Creation code that deploys ``runtime`` as is."""
    return (
        bytes([0x60, len(runtime), 0x80, 0x60, 0x0B, 0x60, 0x00, 0x39, 0x60, 0x00, 0xF3]) + runtime
    )


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def sign(w3: Web3, account: LocalAccount, **fields: Any) -> bytes:
    """Sign a type-2 transaction built locally (2 RPC calls: nonce and base fee)."""
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    tx: dict[str, Any] = {
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(account.address),
        "gas": 300_000,
        "maxFeePerGas": 2 * base_fee + 10**9,
        "maxPriorityFeePerGas": 10**9,
        "value": 0,
        "data": b"",
    }
    tx.update(fields)
    return bytes(account.sign_transaction(tx).raw_transaction)


def send(w3: Web3, account: LocalAccount, **fields: Any) -> TxReceipt:
    tx_hash = w3.eth.send_raw_transaction(sign(w3, account, **fields))
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.01)


def deploy(w3: Web3, account: LocalAccount, runtime: bytes) -> str:
    receipt = send(w3, account, data=init_code(runtime))
    assert receipt["status"] == 1
    address = receipt["contractAddress"]
    assert address is not None
    return str(address)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[EmbeddedChain]:
    chain = EmbeddedChain.create(
        tmp_path / "chain.sqlite3",
        genesis_alloc={ALICE.address: 1000 * ETHER, BOB.address: 10 * ETHER},
    )
    yield chain
    chain.close()


@pytest.fixture
def http_url(chain: EmbeddedChain) -> Iterator[str]:
    server, url = serve(chain)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["in-process", "http"])
def w3(request: pytest.FixtureRequest, chain: EmbeddedChain) -> Web3:
    if request.param == "in-process":
        return Web3(EmbeddedProvider(chain))
    return Web3(HTTPProvider(request.getfixturevalue("http_url")))


def test_value_transfer_is_mined_into_its_own_block(w3: Web3) -> None:
    start = w3.eth.block_number
    before = w3.eth.get_balance(BOB.address)
    receipt = send(w3, ALICE, to=BOB.address, value=ETHER, gas=21_000)

    assert receipt["status"] == 1
    assert receipt["blockNumber"] == start + 1 == w3.eth.block_number
    assert receipt["gasUsed"] == 21_000
    assert w3.eth.get_balance(BOB.address) == before + ETHER
    assert w3.eth.get_balance(BOB.address, block_identifier=start) == before
    assert w3.eth.get_transaction_count(ALICE.address, "pending") == 1

    block = w3.eth.get_block(receipt["blockNumber"], full_transactions=True)
    assert block["hash"] == receipt["blockHash"]
    assert block == w3.eth.get_block(receipt["blockHash"], full_transactions=True)
    assert block["timestamp"] > w3.eth.get_block(start)["timestamp"]
    assert block["gasLimit"] >= 30_000_000
    (tx,) = block["transactions"]
    assert tx == w3.eth.get_transaction(receipt["transactionHash"])
    assert tx["from"] == ALICE.address
    assert tx["to"] == BOB.address
    assert tx["value"] == ETHER
    assert w3.eth.get_block(receipt["blockNumber"])["transactions"] == [tx["hash"]]


def test_unknown_things_answer_null(w3: Web3) -> None:
    unknown = "0x" + "11" * 32
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(unknown)
    assert w3.provider.make_request("eth_getTransactionReceipt", [unknown])["result"] is None
    assert w3.provider.make_request("eth_getTransactionByHash", [unknown])["result"] is None
    assert w3.provider.make_request("eth_getBlockByHash", [unknown, False])["result"] is None
    assert w3.provider.make_request("eth_getBlockByNumber", ["0x99", False])["result"] is None
    error = w3.provider.make_request("eth_noSuchMethod", [])["error"]
    assert error["code"] == -32601


def test_chain_identity_and_fees(w3: Web3, chain: EmbeddedChain) -> None:
    assert w3.eth.chain_id == chain.chain_id
    assert w3.net.version == str(chain.chain_id)
    assert w3.client_version.startswith("Tutela/")
    assert w3.eth.syncing is False
    assert w3.eth.max_priority_fee == 10**9
    assert w3.eth.gas_price > w3.eth.get_block("latest")["baseFeePerGas"]
    send(w3, ALICE, to=BOB.address, gas=21_000)
    with w3.batch_requests() as batch:
        batch.add(w3.eth.get_block("latest"))
        batch.add(w3.eth.get_balance(BOB.address))
        block, balance = batch.execute()
    assert block["number"] == 1  # type: ignore[index]
    assert balance == 10 * ETHER
    history = w3.eth.fee_history(2, "latest", [50])
    assert history["oldestBlock"] == 0
    assert len(history["baseFeePerGas"]) == 3
    assert history["reward"] == [[0], [10**9]]


def test_logs_are_filtered_by_address_topics_and_blocks(w3: Web3) -> None:
    logger_a, logger_b = deploy(w3, ALICE, LOGGER), deploy(w3, ALICE, LOGGER)
    emitted = [
        (logger_a, 1, 10, b"one"),
        (logger_a, 2, 20, b"two"),
        (logger_b, 1, 30, b"three"),
        (logger_b, 3, 10, b""),
    ]
    blocks = []
    for address, first, second, payload in emitted:
        receipt = send(w3, ALICE, to=address, data=word(first) + word(second) + payload)
        (log,) = receipt["logs"]
        assert log["topics"] == [TOPIC0, word(first), word(second)]
        assert log["data"] == payload
        blocks.append(receipt["blockNumber"])
    assert w3.eth.get_storage_at(logger_b, 0) == word(3)

    def found(**filters: Any) -> list[bytes]:
        filters.setdefault("fromBlock", "earliest")
        return [bytes(log["data"]) for log in w3.eth.get_logs(filters)]  # type: ignore[arg-type]

    assert found() == [b"one", b"two", b"three", b""]
    assert found(address=logger_a) == [b"one", b"two"]
    assert found(address=[logger_a, logger_b]) == [b"one", b"two", b"three", b""]
    assert found(topics=[TOPIC0]) == [b"one", b"two", b"three", b""]
    assert found(topics=[None, word(1)]) == [b"one", b"three"]
    assert found(topics=[None, [word(2), word(3)]]) == [b"two", b""]
    assert found(topics=[None, None, word(10)]) == [b"one", b""]
    assert found(address=logger_b, topics=[TOPIC0, None, word(10)]) == [b""]
    assert found(topics=[None, [word(1), None]]) == [b"one", b"two", b"three", b""]
    assert found(topics=[None, None, None, None]) == []  # the logs have three topics
    assert found(topics=[keccak(b"other")]) == []
    assert found(fromBlock=blocks[1], toBlock=blocks[2]) == [b"two", b"three"]
    assert found(fromBlock="latest") == [b""]
    assert found(fromBlock=blocks[3] + 1) == []
    block_hash = w3.eth.get_block(blocks[2])["hash"]
    assert [bytes(log["data"]) for log in w3.eth.get_logs({"blockHash": block_hash})] == [b"three"]
    with pytest.raises(Web3RPCError, match="unknown block"):
        w3.eth.get_logs({"blockHash": "0x" + "22" * 32})  # type: ignore[typeddict-item]


def test_a_reverted_transaction_is_mined_with_status_0(w3: Web3) -> None:
    reverter = deploy(w3, ALICE, REVERTER)
    nonce = w3.eth.get_transaction_count(ALICE.address)
    receipt = send(w3, ALICE, to=reverter, data=bytes.fromhex("deadbeef"))
    assert receipt["status"] == 0
    assert receipt["blockNumber"] == w3.eth.block_number
    assert w3.eth.get_transaction_count(ALICE.address) == nonce + 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"nonce": 0}, "nonce too low"),
        ({"nonce": 7}, "nonce too high"),
        ({"value": 10**6 * ETHER}, "insufficient funds for gas * price + value"),
        ({"gas": 20_000}, "intrinsic gas too low"),
        (
            {"maxFeePerGas": 1, "maxPriorityFeePerGas": 1},
            "max fee per gas less than block base fee",
        ),
        ({"chainId": 1}, "invalid chain id"),
    ],
)
def test_invalid_transactions_are_refused_and_nothing_is_mined(
    w3: Web3, fields: dict[str, Any], message: str
) -> None:
    send(w3, ALICE, to=BOB.address, gas=21_000)  # so that nonce 0 is used
    height = w3.eth.block_number
    raw = sign(w3, ALICE, to=BOB.address, **{"gas": 21_000, **fields})
    with pytest.raises(Web3RPCError, match=re.escape(message)):
        w3.eth.send_raw_transaction(raw)
    assert w3.eth.block_number == height
    assert w3.eth.get_transaction_count(ALICE.address) == 1


def test_malformed_requests_are_invalid_params(chain: EmbeddedChain) -> None:
    for method, params in [
        ("eth_sendRawTransaction", ["0x02f8"]),
        ("eth_getBalance", ["0x12", "latest"]),
        ("eth_getBalance", []),
        ("eth_getLogs", [{"topics": [None] * 5}]),
    ]:
        with pytest.raises(JsonRpcError) as caught:
            chain.request(method, params)
        assert caught.value.code == -32602, (method, caught.value.message)


def test_increase_time_moves_block_timestamps_and_survives_reopening(
    chain: EmbeddedChain, tmp_path: Path
) -> None:
    w3 = Web3(EmbeddedProvider(chain))
    clock = deploy(w3, ALICE, CLOCK)
    before = int(time.time())  # the offset applies to the wall clock, as on anvil
    assert w3.provider.make_request("evm_increaseTime", [3600])["result"] == 3600
    assert w3.provider.make_request("evm_increaseTime", ["0x10"])["result"] == 3616
    w3.provider.make_request("evm_mine", [])
    mined = w3.eth.get_block("latest")
    assert mined["timestamp"] >= before + 3616
    assert mined["transactions"] == []
    timestamp, number = (int.from_bytes(w3.eth.call({"to": clock})[i : i + 32]) for i in (0, 32))
    assert (timestamp, number) == (mined["timestamp"], mined["number"])

    chain.close()
    reopened = EmbeddedChain.open(tmp_path / "chain.sqlite3")
    try:
        reopened.request("evm_mine", [])
        latest = reopened.request("eth_getBlockByNumber", ["latest", False])
        assert int(latest["timestamp"], 16) >= before + 3616
    finally:
        reopened.close()


def test_create_and_open_refuse_the_wrong_state(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="tutela init"):
        EmbeddedChain.open(tmp_path / "missing.sqlite3")
    EmbeddedChain.create(tmp_path / "c.sqlite3", genesis_alloc={}).close()
    with pytest.raises(ConfigurationError, match="already"):
        EmbeddedChain.create(tmp_path / "c.sqlite3", genesis_alloc={})
    with pytest.raises(ConfigurationError, match="genesis"):
        EmbeddedChain.create(tmp_path / "d.sqlite3", genesis_alloc={"0x1234": 1})


def test_concurrent_senders_over_http_are_serialised(chain: EmbeddedChain, http_url: str) -> None:
    senders = [Account.from_key(keccak(b"sender %d" % n)) for n in range(4)]
    funder = Web3(EmbeddedProvider(chain))
    for sender in senders:
        send(funder, ALICE, to=sender.address, value=ETHER, gas=21_000)
    start = funder.eth.block_number
    failures: list[BaseException] = []

    def run(sender: LocalAccount) -> None:
        w3 = Web3(HTTPProvider(http_url))  # one connection per thread, as separate clients
        try:
            for _ in range(10):
                assert send(w3, sender, to=BOB.address, value=1, gas=21_000)["status"] == 1
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert funder.eth.block_number == start + 40
    assert all(funder.eth.get_transaction_count(s.address) == 10 for s in senders)


def test_closed_and_foreign_files(chain: EmbeddedChain, tmp_path: Path) -> None:
    chain.close()
    chain.close()  # idempotent
    with pytest.raises(JsonRpcError, match="closed"):
        chain.request("eth_blockNumber", [])
    foreign = tmp_path / "foreign.sqlite3"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE people (name TEXT)")
    connection.close()
    with pytest.raises(ChainError, match="not a Tutela chain"):
        EmbeddedChain.open(foreign)
    connection = sqlite3.connect(foreign)
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    connection.close()
    assert tables == {"people"}  # left untouched


def test_http_batches_and_refusals(chain: EmbeddedChain, http_url: str) -> None:
    w3 = Web3(HTTPProvider(http_url))
    fee = 2 * w3.eth.get_block("latest")["baseFeePerGas"] + 10**9
    raws = [
        ALICE.sign_transaction(
            {
                "chainId": chain.chain_id,
                "nonce": nonce,
                "gas": 21_000,
                "maxFeePerGas": fee,
                "maxPriorityFeePerGas": 10**9,
                "to": BOB.address,
                "value": 1,
            }
        ).raw_transaction
        for nonce in range(100)
    ]
    responses = w3.provider.make_batch_request(
        [("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws]
    )
    assert isinstance(responses, list)
    assert [r.get("error") for r in responses] == [None] * 100
    assert w3.eth.block_number == 100

    host, port = http_url.removeprefix("http://").split(":")

    def post(body: bytes, **headers: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            headers = {"Content-Type": "application/json", **headers}
            connection.request("POST", "/", body, headers)
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()

    status, body = post(b"{not json")
    assert status == 200
    assert json.loads(body)["error"]["code"] == -32700
    assert post(b"{}", **{"Content-Type": "text/plain"})[0] == 415
    assert post(b"{}", Host="evil.example:8545")[0] == 403
    # The size is judged on Content-Length, before the body is read.
    assert post(b"{}", **{"Content-Length": str(MAX_REQUEST_BYTES + 1)})[0] == 413
    status, body = post(b"[]")
    assert json.loads(body)["error"]["code"] == -32600
    with pytest.raises(ConfigurationError, match="loopback"):
        serve(chain, host="0.0.0.0")  # noqa: S104


@pytest.fixture
def anvil_w3(anvil_url: str) -> Web3:
    return Web3(HTTPProvider(anvil_url))


REVERTS = {
    "custom error with arguments": bytes.fromhex("deadbeef") + word(7) + word(0xABC),
    "custom error without arguments": bytes.fromhex("deadbeef"),
    "Error(string)": bytes.fromhex("08c379a0") + word(32) + word(4) + b"nope".ljust(32, b"\0"),
    "Panic(0x11)": bytes.fromhex("4e487b71") + word(0x11),
    "empty": b"",
}


@pytest.mark.anvil
@pytest.mark.parametrize("payload", REVERTS.values(), ids=list(REVERTS))
def test_reverts_are_reported_exactly_as_anvil_does(
    chain: EmbeddedChain, anvil_w3: Web3, payload: bytes
) -> None:
    ours = Web3(EmbeddedProvider(chain))
    theirs = anvil_w3
    dev = Account.from_key(DEV_PRIVATE_KEY)

    def outcome(w3: Web3, account: LocalAccount) -> list[Any]:
        reverter = deploy(w3, account, REVERTER)
        call = {"from": account.address, "to": reverter, "data": "0x" + payload.hex()}
        raw = [
            w3.provider.make_request(m, [call]).get("error")
            for m in ("eth_call", "eth_estimateGas")
        ]
        with pytest.raises(ContractLogicError) as caught:
            w3.eth.call(call)  # type: ignore[arg-type]
        return [raw, type(caught.value), str(caught.value), caught.value.data]

    expected = outcome(theirs, dev)
    assert outcome(ours, ALICE) == expected
    if payload[:4] == bytes.fromhex("deadbeef"):
        assert expected[1] is ContractCustomError
    if payload[:4] == bytes.fromhex("4e487b71"):
        assert expected[1] is ContractPanicError


@pytest.mark.anvil
def test_results_have_the_same_fields_as_anvils(chain: EmbeddedChain, anvil_w3: Web3) -> None:
    def shapes(w3: Web3, account: LocalAccount) -> dict[str, set[str]]:
        address = deploy(w3, account, LOGGER)
        receipt = send(w3, account, to=address, data=word(1) + word(2) + b"x")
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        number = hex(receipt["blockNumber"])
        rpc = w3.provider.make_request
        raw_receipt = rpc("eth_getTransactionReceipt", [tx_hash])["result"]
        block = rpc("eth_getBlockByNumber", [number, True])["result"]
        return {
            "receipt": set(raw_receipt) - {"blobGasPrice"},  # anvil's own extra
            "log": set(raw_receipt["logs"][0]),
            "transaction": set(rpc("eth_getTransactionByHash", [tx_hash])["result"]),
            "block": set(block),
            "block transaction": set(block["transactions"][0]),
            "fee history": set(rpc("eth_feeHistory", ["0x2", "latest", [50]])["result"]),
        }

    assert shapes(Web3(EmbeddedProvider(chain)), ALICE) == shapes(
        anvil_w3, Account.from_key(DEV_PRIVATE_KEY)
    )


def test_contract_calls_and_estimates_through_web3(w3: Web3) -> None:
    logger_address = deploy(w3, ALICE, LOGGER)
    data = word(5) + word(6) + b"payload"
    estimate = w3.eth.estimate_gas({"from": ALICE.address, "to": logger_address, "data": data})
    receipt = send(w3, ALICE, to=logger_address, data=data, gas=estimate)
    assert receipt["status"] == 1
    assert receipt["gasUsed"] == estimate
    # A call from an address without ether works, as on geth: no fee fields, no cost.
    assert w3.eth.call({"from": POOR.address, "to": logger_address, "data": data}) == b""
    code = w3.eth.get_code(to_checksum_address(logger_address))
    assert bytes(code) == LOGGER


# Calls the address in calldata[0:32] with calldata[32:] and all its gas, and reverts when
# that call fails: the 63/64 rule makes it need more gas than it uses.
FORWARDER = bytes.fromhex("602036038060206000376000600082600060006000355af115601d57005b600080fd")
YEAR = 365 * 86_400


def test_estimates_are_the_least_gas_even_for_calls_that_forward_gas(w3: Web3) -> None:
    logger_address = deploy(w3, ALICE, LOGGER)
    forwarder = deploy(w3, ALICE, FORWARDER)
    target = bytes.fromhex(logger_address.removeprefix("0x")).rjust(32, b"\0")
    data = target + word(7) + word(8) + b"forwarded"
    estimate = w3.eth.estimate_gas({"from": ALICE.address, "to": forwarder, "data": data})
    assert send(w3, ALICE, to=forwarder, data=data, gas=estimate - 1)["status"] == 0
    receipt = send(w3, ALICE, to=forwarder, data=data, gas=estimate)
    assert receipt["status"] == 1
    assert receipt["logs"][0]["data"] == b"forwarded"
    # What the call keeps back for itself (1/64 of its gas at the CALL) is never used.
    assert receipt["gasUsed"] < estimate


def _timestamp(chain: EmbeddedChain, tag: str = "latest") -> int:
    return int(chain.request("eth_getBlockByNumber", [tag, False])["timestamp"], 16)


def test_a_chain_can_start_a_year_back_and_come_back_to_the_wall_clock(tmp_path: Path) -> None:
    path = tmp_path / "past.sqlite3"
    before = int(time.time())
    chain = EmbeddedChain.create(path, genesis_alloc={ALICE.address: ETHER}, time_offset=-YEAR)
    try:
        assert before - YEAR <= _timestamp(chain, "earliest") <= int(time.time()) - YEAR
        chain.request("evm_mine", [])
        assert _timestamp(chain) <= int(time.time()) - YEAR + 1
        # A demo walks the clock forward, day by day, in the past.
        assert chain.request("evm_increaseTime", [180 * 86_400]) == -YEAR + 180 * 86_400
        chain.request("evm_mine", [])
        assert _timestamp(chain) <= int(time.time()) - YEAR + 180 * 86_400 + 1
    finally:
        chain.close()

    # Reopened while still in the past: the offset is on disk.
    reopened = EmbeddedChain.open(path)
    try:
        assert reopened.request("evm_increaseTime", [0]) == -YEAR + 180 * 86_400
        reopened.request("evm_mine", [])
        in_the_past = _timestamp(reopened)
        assert in_the_past < int(time.time()) - 180 * 86_400 + 5
        # Back to the wall clock: the offset goes to 0 and blocks follow the clock again.
        assert reopened.request("evm_increaseTime", [YEAR - 180 * 86_400]) == 0
        reopened.request("evm_mine", [])
        assert int(time.time()) - 5 <= _timestamp(reopened) <= int(time.time()) + 1
    finally:
        reopened.close()

    again = EmbeddedChain.open(path)
    try:
        assert again.request("evm_increaseTime", [0]) == 0
        head = again.block_number
        last = _timestamp(again)
        again.request("evm_mine", [])
        assert again.block_number == head + 1
        assert last < _timestamp(again) <= int(time.time()) + 1
        blocks = [_timestamp(again, hex(number)) for number in range(again.block_number + 1)]
        assert blocks == sorted(blocks)  # time never went back along the way
    finally:
        again.close()


@pytest.mark.parametrize("offset", [-(10**12), 1.5, True, "-100"])
def test_a_chain_refuses_an_impossible_start_and_leaves_no_file(
    tmp_path: Path, offset: Any
) -> None:
    path = tmp_path / "never.sqlite3"
    with pytest.raises(ConfigurationError, match="time offset"):
        EmbeddedChain.create(path, genesis_alloc={}, time_offset=offset)
    assert not path.exists()
