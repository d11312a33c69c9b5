"""The embedded chain: py-evm in process, kept on disk, answering Ethereum JSON-RPC.

Tutela talks to every chain over JSON-RPC; with no configuration that chain is this one.
It behaves like an instant-mining node (anvil, geth ``--dev``) whose blocks live in one
SQLite file (:mod:`ledger_client.chain.kvstore`):

* each accepted ``eth_sendRawTransaction`` is validated, executed and mined into its own
  block, and that block (state, receipts, log index) is committed to disk before the call
  returns, so a transaction hash handed to a caller is never lost, even by ``kill -9``;
* a reverted transaction is still mined, with receipt status 0;
* reverts in ``eth_call``/``eth_estimateGas`` are reported exactly as anvil 1.5.1 does
  (code 3, anvil's message, raw revert data), so that web3 raises the same exception;
* block timestamps follow the wall clock plus an offset that ``evm_increaseTime`` moves
  and that is kept on disk, like anvil's.

Where anvil and this chain differ on purpose: a transaction whose nonce is ahead is refused
("nonce too high") instead of being queued, since nothing here would ever fill the gap;
``pending`` means ``latest``; an unknown ``blockHash`` in ``eth_getLogs`` is an error, as
on geth.

The EVM is eth-tester's ``PyEVMBackend`` over py-evm, re-pointed at our database: we reuse
its transaction normalisation, and drive py-evm's ``MiningChain`` for mining and state.
JSON results are built in :mod:`ledger_client.chain.rpc_format`; the EVM glue and the
pool checks live in :mod:`ledger_client.chain.evm`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI, StateAPI
from eth.db.atomic import AtomicDB
from eth.exceptions import HeaderNotFound, Revert, TransactionNotFound, VMError
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth.vm.spoof import SpoofTransaction
from eth_tester.backends.pyevm.main import PyEVMBackend
from eth_typing import Address, BlockNumber, Hash32
from eth_utils.address import is_address, to_canonical_address
from eth_utils.exceptions import ValidationError

from ledger_client import __version__
from ledger_client.chain import rpc_format as fmt
from ledger_client.chain.evm import (
    DEFAULT_FORK,
    FORKS,
    Backend,
    JsonRpcError,
    chain_class,
    pool_check,
    vm_error,
)
from ledger_client.chain.kvstore import LogQuery, SQLiteKeyValueStore
from ledger_client.errors import ChainError, ConfigurationError

logger = logging.getLogger(__name__)

#: eth-tester's chain id; a Tutela deployment may pick its own at ``tutela init``.
DEFAULT_CHAIN_ID = 131277322940537
#: What eth_maxPriorityFeePerGas suggests (anvil and eth-tester: 1 gwei).
SUGGESTED_TIP = 10**9
CLIENT_VERSION = f"Tutela/v{__version__}/py-evm"


class EmbeddedChain:
    """An instant-mining chain stored in one SQLite file, answering JSON-RPC requests.

    Build it with :meth:`create` or :meth:`open`; one process at a time may hold the file
    (``ledger_client.chain.node`` takes the data folder's lock). All requests are
    serialised under one lock, so the HTTP server may call :meth:`request` from threads.
    """

    def __init__(self, store: SQLiteKeyValueStore) -> None:
        """Attach to an opened store; use :meth:`create` or :meth:`open` instead."""
        chain_id, fork = store.get_meta("chain_id"), store.get_meta("fork")
        if chain_id is None or fork not in FORKS:
            raise ChainError(f"{store.path} is not a Tutela chain (fork {fork!r})")
        self._store = store
        self._lock = threading.Lock()
        self._closed = False
        self._chain_class = chain_class(int(chain_id), fork)
        self._time_offset = int(store.get_meta("time_offset") or 0)
        self._load()
        self._methods: dict[str, Callable[[list[Any]], Any]] = {
            name.removeprefix("_rpc_"): getattr(self, name)
            for name in dir(self)
            if name.startswith("_rpc_")
        }

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        genesis_alloc: Mapping[str, int],
        chain_id: int = DEFAULT_CHAIN_ID,
        time_offset: int = 0,
    ) -> EmbeddedChain:
        """Create a chain file with a post-merge genesis block funding ``genesis_alloc``.

        Args:
            path: the SQLite file to create.
            genesis_alloc: checksum address -> balance in wei.
            chain_id: the EIP-155 chain id, fixed for the chain's life.
            time_offset: seconds between the chain's clock and the wall clock at the start;
                negative to begin in the past (a demo writes a year of history, walking the
                clock forward with ``evm_increaseTime``). The genesis is stamped with it.

        Raises:
            ConfigurationError: the file exists, an address or balance is invalid, or the
                offset is not a whole number of seconds that leaves the genesis after 1970.
        """
        now = int(time.time())
        whole = isinstance(time_offset, int) and not isinstance(time_offset, bool)
        if not whole or now + time_offset < 1:
            raise ConfigurationError(f"invalid time offset for a new chain: {time_offset!r}")
        state: dict[Address, Any] = {}
        for address, balance in genesis_alloc.items():
            if not is_address(address) or not isinstance(balance, int) or balance < 0:
                raise ConfigurationError(f"invalid genesis allocation {address!r}: {balance!r}")
            state[to_canonical_address(address)] = {
                "balance": balance,
                "nonce": 0,
                "code": b"",
                "storage": {},
            }
        try:
            store = SQLiteKeyValueStore(path, create=True)
        except FileExistsError as error:
            raise ConfigurationError(f"{path} already holds a chain; not overwriting it") from error
        try:
            store.set_meta("chain_id", str(chain_id))
            store.set_meta("fork", DEFAULT_FORK)
            store.set_meta("time_offset", str(time_offset))
            # eth-tester's genesis: post-merge, gas limit 30,029,122, base fee 1 gwei.
            params = PyEVMBackend.generate_genesis_params()
            params["timestamp"] = now + time_offset
            chain_class(chain_id, DEFAULT_FORK).from_genesis(AtomicDB(store), params, state)
            store.commit()
        except BaseException:
            store.close()
            path.unlink(missing_ok=True)
            raise
        logger.info("created chain %d at %s", chain_id, path)
        return cls(store)

    @classmethod
    def open(cls, path: Path) -> EmbeddedChain:
        """Open an existing chain file at its stored head.

        Raises:
            ConfigurationError: there is no chain file at ``path``.
            ChainError: the file is not a Tutela chain.
        """
        try:
            store = SQLiteKeyValueStore(path, create=False)
        except FileNotFoundError as error:
            raise ConfigurationError(
                f"no embedded chain at {path}; create one with `tutela init`"
            ) from error
        except Exception as error:
            raise ChainError(f"cannot open the chain file {path}: {error}") from error
        try:
            return cls(store)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Close the chain file (idempotent). Every answered transaction is on disk."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._store.close()

    @property
    def chain_id(self) -> int:
        """The chain's EIP-155 id."""
        return int(self._chain_class.chain_id)

    @property
    def block_number(self) -> int:
        """The number of the newest block."""
        with self._lock:
            return int(self._head().block_number)

    def _load(self) -> None:
        # A fresh chain object on the committed head; also how we recover after a failed
        # block, since py-evm's caches may hold objects that never reached the disk.
        self._store.discard()
        self._chain = self._chain_class(AtomicDB(self._store))
        self._backend = Backend(self._chain)

    # -- dispatch --------------------------------------------------------------------------

    def request(self, method: str, params: list[Any] | None = None) -> Any:
        """Answer one JSON-RPC call.

        Args:
            method: the JSON-RPC method, e.g. ``eth_sendRawTransaction``.
            params: its positional parameters.

        Returns:
            The JSON-serialisable ``result``.

        Raises:
            JsonRpcError: the error a node would answer (-32601 unknown method, -32602
                invalid params, 3 revert, -32003 transaction rejected, -32603 internal).
        """
        handler = self._methods.get(method)
        if handler is None:
            raise JsonRpcError(-32601, f"the method {method} does not exist/is not available")
        if params is None:
            params = []
        if not isinstance(params, list):
            raise JsonRpcError(-32602, "invalid params: expected an array")
        with self._lock:
            if self._closed:
                raise JsonRpcError(-32000, "the embedded chain is closed")
            try:
                return handler(params)
            except JsonRpcError:
                raise
            except (fmt.ParamError, ValidationError) as error:
                raise JsonRpcError(-32602, f"invalid params: {error}") from error
            except Exception as error:
                logger.exception("embedded chain failed on %s", method)
                raise JsonRpcError(-32603, f"internal error: {error}") from error

    # -- blocks and time -------------------------------------------------------------------

    def _head(self) -> BlockHeaderAPI:
        return self._chain.get_canonical_head()

    def _header(self, tag: Any, *, required: bool = True) -> BlockHeaderAPI | None:
        """Resolve a block tag, number or EIP-1898 object to a canonical header."""
        if isinstance(tag, dict) and "blockHash" in tag:
            header = self._header_by_hash(fmt.hash32(tag["blockHash"]))
        else:
            if isinstance(tag, dict):
                tag = tag.get("blockNumber")
            head = self._head()
            number = fmt.block_number(tag, head.block_number)
            header = None if number > head.block_number else self._canonical(number)
        if header is None and required:
            raise JsonRpcError(-32000, "header not found")
        return header

    def _canonical(self, number: int) -> BlockHeaderAPI:
        return self._chain.get_canonical_block_header_by_number(BlockNumber(number))

    def _header_by_hash(self, block_hash: Hash32) -> BlockHeaderAPI | None:
        try:
            header = self._chain.get_block_header_by_hash(block_hash)
        except HeaderNotFound:
            return None
        if self._chain.get_canonical_block_hash(header.block_number) != block_hash:
            return None
        return header

    def _block(self, header: BlockHeaderAPI) -> BlockAPI:
        return self._chain.get_block_by_header(header)

    def _state(self, header: BlockHeaderAPI) -> StateAPI:
        return self._chain.get_vm(at_header=header).state

    def _next_timestamp(self, parent: BlockHeaderAPI) -> int:
        return max(int(parent.timestamp) + 1, int(time.time()) + self._time_offset)

    def _next_header(self, parent: BlockHeaderAPI) -> BlockHeaderAPI:
        # prevrandao is random like eth-tester's; set before execution so the value a
        # contract reads is the one the block records.
        return self._chain.create_header_from_parent(
            parent, timestamp=self._next_timestamp(parent), mix_hash=os.urandom(32)
        )

    def _mine(self, transactions: list[SignedTransactionAPI]) -> BlockAPI:
        """Mine ``transactions`` into one new block and commit it to disk."""
        chain = self._chain
        chain.header = self._next_header(self._head())
        try:
            result, receipts, _ = chain.mine_all(transactions)
            block = result.imported_block
            self._store.stage_logs(fmt.log_rows(block, receipts))
            self._store.commit()
        except BaseException:
            self._load()
            raise
        logger.debug("mined block %d with %d transaction(s)", block.number, len(transactions))
        return block

    # -- transactions ----------------------------------------------------------------------

    def _check_transaction(self, tx: SignedTransactionAPI) -> None:
        """Reject what geth's pool would, with its messages, before anything is mined."""
        head = self._head()
        pool_check(tx, chain_id=self.chain_id, head=head, state=self._state(head))

    def _call_context(
        self, call: Any, tag: Any, *, pending: bool
    ) -> tuple[StateAPI, SpoofTransaction]:
        """Build the state and the spoofed transaction for eth_call / eth_estimateGas.

        eth_call runs in the context of the block asked for (like anvil); estimates run in
        the next block's context, where the transaction would land. Without fee fields the
        call is free (gas price 0, base fee 0), as in geth, so any ``from`` may call.
        """
        if not isinstance(call, dict):
            raise fmt.ParamError("the call object must be an object")
        header = self._header(tag)
        assert header is not None
        tx = fmt.call_transaction(call)
        free = not any(k in tx for k in ("gas_price", "max_fee_per_gas"))
        if free:
            tx.update(max_fee_per_gas=0, max_priority_fee_per_gas=0)
        context = self._next_header(header) if pending else header
        if free:
            context = context.copy(base_fee_per_gas=0)
        state = self._chain.get_vm(at_header=context).state
        if "gas" not in tx:
            tx["gas"] = context.gas_limit
            if not free:
                price = tx.get("max_fee_per_gas", tx.get("gas_price", 0))
                allowance = (state.get_balance(tx["from"]) - tx.get("value", 0)) // max(price, 1)
                tx["gas"] = max(min(context.gas_limit, allowance), 0)
        balance = state.get_balance(tx["from"])
        price = tx.get("max_fee_per_gas", tx.get("gas_price", 0))
        if balance < tx["gas"] * price + tx.get("value", 0):
            raise JsonRpcError(-32003, "insufficient funds for gas * price + value")
        unsigned = self._backend.unsigned_transaction(tx, header.block_number)
        return state, SpoofTransaction(unsigned, from_=tx["from"])

    # -- JSON-RPC methods (_rpc_<name>) -----------------------------------------------------

    def _rpc_web3_clientVersion(self, params: list[Any]) -> str:  # noqa: N802
        return CLIENT_VERSION

    def _rpc_net_version(self, params: list[Any]) -> str:
        return str(self.chain_id)

    def _rpc_net_listening(self, params: list[Any]) -> bool:
        return True

    def _rpc_eth_chainId(self, params: list[Any]) -> str:  # noqa: N802
        return hex(self.chain_id)

    def _rpc_eth_syncing(self, params: list[Any]) -> bool:
        return False

    def _rpc_eth_accounts(self, params: list[Any]) -> list[str]:
        return []

    def _rpc_eth_blockNumber(self, params: list[Any]) -> str:  # noqa: N802
        return hex(self._head().block_number)

    def _rpc_eth_gasPrice(self, params: list[Any]) -> str:  # noqa: N802
        return hex(calculate_expected_base_fee_per_gas(self._head()) + SUGGESTED_TIP)

    def _rpc_eth_maxPriorityFeePerGas(self, params: list[Any]) -> str:  # noqa: N802
        return hex(SUGGESTED_TIP)

    def _rpc_eth_feeHistory(self, params: list[Any]) -> dict[str, Any]:  # noqa: N802
        count = fmt.quantity(fmt.arg(params, 0, "blockCount"))
        newest = self._header(fmt.arg(params, 1, "newestBlock"))
        assert newest is not None
        percentiles = [float(p) for p in fmt.arg(params, 2, "rewardPercentiles", [])]
        count = max(0, min(count, 1024, newest.block_number + 1))
        oldest = newest.block_number - count + 1
        headers = [self._canonical(n) for n in range(oldest, newest.block_number + 1)]
        result: dict[str, Any] = {
            "oldestBlock": hex(oldest),
            "baseFeePerGas": [hex(fmt.base_fee(h)) for h in headers]
            + [hex(calculate_expected_base_fee_per_gas(newest))],
            "gasUsedRatio": [h.gas_used / h.gas_limit for h in headers],
            "baseFeePerBlobGas": ["0x1"] * (count + 1),
            "blobGasUsedRatio": [0.0] * count,
        }
        if percentiles:
            result["reward"] = [
                fmt.rewards(self._block(h), h, percentiles, self._chain.chaindb) for h in headers
            ]
        return result

    def _rpc_eth_getBalance(self, params: list[Any]) -> str:  # noqa: N802
        address = fmt.address(fmt.arg(params, 0, "address"))
        return hex(self._state(self._tag_header(params, 1)).get_balance(address))

    def _rpc_eth_getTransactionCount(self, params: list[Any]) -> str:  # noqa: N802
        # Every accepted transaction is mined at once, so "pending" equals "latest".
        address = fmt.address(fmt.arg(params, 0, "address"))
        return hex(self._state(self._tag_header(params, 1)).get_nonce(address))

    def _rpc_eth_getCode(self, params: list[Any]) -> str:  # noqa: N802
        address = fmt.address(fmt.arg(params, 0, "address"))
        return fmt.data(self._state(self._tag_header(params, 1)).get_code(address))

    def _rpc_eth_getStorageAt(self, params: list[Any]) -> str:  # noqa: N802
        address = fmt.address(fmt.arg(params, 0, "address"))
        slot = fmt.quantity(fmt.arg(params, 1, "slot"))
        value = self._state(self._tag_header(params, 2)).get_storage(address, slot)
        return fmt.data(value.to_bytes(32, "big"))

    def _tag_header(self, params: list[Any], index: int) -> BlockHeaderAPI:
        header = self._header(fmt.arg(params, index, "block", "latest"))
        assert header is not None
        return header

    def _rpc_eth_getBlockByNumber(self, params: list[Any]) -> dict[str, Any] | None:  # noqa: N802
        header = self._header(fmt.arg(params, 0, "block"), required=False)
        full = bool(fmt.arg(params, 1, "full", False))
        return None if header is None else fmt.block(self._block(header), full)

    def _rpc_eth_getBlockByHash(self, params: list[Any]) -> dict[str, Any] | None:  # noqa: N802
        header = self._header_by_hash(fmt.hash32(fmt.arg(params, 0, "blockHash")))
        full = bool(fmt.arg(params, 1, "full", False))
        return None if header is None else fmt.block(self._block(header), full)

    def _locate(self, tx_hash: Hash32) -> tuple[BlockAPI, int] | None:
        # py-evm indexes transaction hash -> (block, index); eth-tester's own lookup scans
        # every block backwards, which the history of a registry cannot afford.
        try:
            number, index = self._chain.chaindb.get_transaction_index(tx_hash)
        except TransactionNotFound:
            return None
        return self._block(self._canonical(number)), index

    def _rpc_eth_getTransactionByHash(self, params: list[Any]) -> dict[str, Any] | None:  # noqa: N802
        found = self._locate(fmt.hash32(fmt.arg(params, 0, "transactionHash")))
        return None if found is None else fmt.transaction(found[0], found[1])

    def _rpc_eth_getTransactionReceipt(self, params: list[Any]) -> dict[str, Any] | None:  # noqa: N802
        found = self._locate(fmt.hash32(fmt.arg(params, 0, "transactionHash")))
        if found is None:
            return None
        block, index = found
        return fmt.receipt(block, block.get_receipts(self._chain.chaindb), index)

    def _rpc_eth_sendRawTransaction(self, params: list[Any]) -> str:  # noqa: N802
        raw = fmt.data_bytes(fmt.arg(params, 0, "transaction"))
        builder = self._chain.get_vm().get_transaction_builder()
        try:
            tx = builder.decode(raw)
        except Exception as error:
            raise JsonRpcError(-32602, f"failed to decode transaction: {error}") from error
        self._check_transaction(tx)
        try:
            block = self._mine([tx])
        except ValidationError as error:
            raise JsonRpcError(-32003, f"transaction rejected: {error}") from error
        logger.info("mined transaction %s in block %d", tx.hash.hex(), block.number)
        return fmt.data(tx.hash)

    def _rpc_eth_call(self, params: list[Any]) -> str:
        state, tx = self._call_context(
            fmt.arg(params, 0, "transaction"), fmt.arg(params, 1, "block", "latest"), pending=False
        )
        snapshot = state.snapshot()
        try:
            computation = state.apply_transaction(tx)  # type: ignore[arg-type]
        finally:
            state.revert(snapshot)
        if computation.is_error:
            raise vm_error(computation.error, computation.output)
        return fmt.data(computation.output)

    def _rpc_eth_estimateGas(self, params: list[Any]) -> str:  # noqa: N802
        state, tx = self._call_context(
            fmt.arg(params, 0, "transaction"), fmt.arg(params, 1, "block", "latest"), pending=True
        )
        try:
            return hex(_least_gas(state, tx))
        except Revert as error:
            raise vm_error(error, error.args[0] if error.args else b"") from error
        except VMError as error:
            raise vm_error(error, b"") from error

    def _rpc_eth_getLogs(self, params: list[Any]) -> list[dict[str, Any]]:  # noqa: N802
        spec = fmt.arg(params, 0, "filter")
        if not isinstance(spec, dict):
            raise fmt.ParamError("the filter must be an object")
        head = self._head().block_number
        if spec.get("blockHash") is not None:
            if "fromBlock" in spec or "toBlock" in spec:
                raise fmt.ParamError("use either blockHash or fromBlock/toBlock")
            header = self._header_by_hash(fmt.hash32(spec["blockHash"]))
            if header is None:
                raise JsonRpcError(-32000, "unknown block")
            first = last = int(header.block_number)
        else:
            first = fmt.block_number(spec.get("fromBlock") or "latest", head)
            last = min(fmt.block_number(spec.get("toBlock") or "latest", head), head)
            if first > last and first <= head:
                raise JsonRpcError(-32602, "invalid block range params")
        topics = spec.get("topics") or []
        if len(topics) > 4:
            raise JsonRpcError(-32602, "exceeded maximum topics len")
        query = LogQuery(
            from_block=first,
            to_block=last,
            addresses=fmt.addresses(spec.get("address")),
            topics=tuple(fmt.topic_alternatives(t) for t in topics),
        )
        return [fmt.log(row) for row in self._store.query_logs(query)]

    def _rpc_evm_increaseTime(self, params: list[Any]) -> int:  # noqa: N802
        offset = self._time_offset + fmt.quantity(fmt.arg(params, 0, "seconds"))
        self._store.set_meta("time_offset", str(offset))
        try:
            self._store.commit()
        except BaseException:
            self._store.discard()
            raise
        self._time_offset = offset
        return offset  # anvil answers the total offset, as a JSON number

    def _rpc_evm_mine(self, params: list[Any]) -> str:
        if params:
            raise fmt.ParamError("evm_mine takes no parameters here")
        self._mine([])
        return "0x0"


def _least_gas(state: StateAPI, tx: SpoofTransaction) -> int:
    """The least gas ``tx`` succeeds with: what py-evm's ``binary_gas_search_exact`` finds.

    That search runs the call about 25 times from the intrinsic gas up to the block's limit;
    every action sends an estimate first, so it cost three quarters of an action's time. The
    run at the limit tells how much the call used, which is the answer for most calls: one
    run at that amount and one a unit below confirm it. Calls that forward gas (the 63/64
    rule) or end near a stipend need a little more: a narrow search above it finds it.

    Raises:
        VMError: the call fails even at the block's gas limit.
    """

    def succeeds(gas: int, **free: int) -> bool:
        snapshot = state.snapshot()
        try:
            return not state.apply_transaction(SpoofTransaction(tx, gas=gas, **free)).is_error  # type: ignore[arg-type]
        finally:
            state.revert(snapshot)

    low = int(tx.intrinsic_gas)
    if succeeds(low, gas_price=0):
        return low
    high = int(state.gas_limit)
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(SpoofTransaction(tx, gas=high, gas_price=0))  # type: ignore[arg-type]
    finally:
        state.revert(snapshot)
    if computation.is_error:
        raise computation.error
    used = high - computation.get_gas_remaining()
    # Probes that narrow (low, high]; each keeps the invariant "low fails, high succeeds", so
    # the bisection below returns exactly what a bisection over the whole range would.
    for probe in (used, used - 1, used + used // 63 + 2_300):
        if low < probe < high:
            if succeeds(probe):
                high = probe
            else:
                low = probe
    while high - low > 1:
        middle = (low + high) // 2
        if succeeds(middle):
            high = middle
        else:
            low = middle
    return high
