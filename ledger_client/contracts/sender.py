"""Builds, signs and sends transactions, and turns reverts into typed errors.

Transactions are built here rather than by web3's ``build_transaction``, which asks the node
for chain id, nonce, gas and fees on every call (8 RPC calls a transaction, measured here):
fees are cached for the sender's life and the chain id is known from the deployment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from ledger_client.contracts.reverts import decode_revert
from ledger_client.errors import (
    ChainError,
    ChainUnavailableError,
    ContractRevertError,
    TransactionFailedError,
)
from ledger_client.keys import Signer

logger = logging.getLogger(__name__)

# Estimates are made on the state before inclusion; a margin keeps a transaction from
# running out of gas when another one lands first and changes a storage slot it touches.
GAS_MARGIN = 1.25
RECEIPT_POLL = 0.05
T = TypeVar("T")
RECEIPT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    legacy_gas_price: int | None = None


class TransactionSender:
    """Sends transactions from one account, one at a time, and waits for their receipts."""

    def __init__(self, w3: Web3, signer: Signer, chain_id: int) -> None:
        self._w3 = w3
        self._signer = signer
        self._chain_id = chain_id
        self._fees: Fees | None = None

    @property
    def address(self) -> ChecksumAddress:
        return self._signer.address

    def transact(self, function: ContractFunction, *, value: int = 0) -> TxReceipt:
        """Sends a contract call and returns its receipt.

        Raises:
            ContractRevertError: the contract refused, decoded from its custom error.
            ChainError: the node refused the transaction or is unreachable.
        """
        data = function._encode_transaction_data()
        return self.send(to=function.address, data=HexBytes(data), value=value)

    def deploy(self, bytecode: str, constructor_data: bytes) -> TxReceipt:
        """Deploys a contract; the receipt's ``contractAddress`` is its address."""
        return self.send(to=None, data=HexBytes(bytecode) + constructor_data)

    def send(self, *, to: ChecksumAddress | None, data: bytes, value: int = 0) -> TxReceipt:
        """Estimates, signs, broadcasts and waits for one transaction.

        Raises:
            ContractRevertError: the estimate or the mined transaction reverted.
            ChainError: the node refused the transaction or is unreachable.
        """
        call: TxParams = {"from": self.address, "data": HexBytes(data), "value": Wei(value)}
        if to is not None:
            call["to"] = to
        gas = int(rpc(lambda: self._w3.eth.estimate_gas(call)) * GAS_MARGIN)
        nonce = rpc(lambda: self._w3.eth.get_transaction_count(self.address, "pending"))
        tx = unsigned_transaction(
            chain_id=self._chain_id,
            nonce=nonce,
            gas=gas,
            to=to,
            data=data,
            value=value,
            fees=self._current_fees(),
        )
        raw = self._signer.sign_transaction(tx)
        tx_hash = rpc(lambda: self._w3.eth.send_raw_transaction(raw))
        receipt = self._wait(tx_hash)
        if receipt["status"] != 1:
            raise self._explain_failure(call, receipt)
        logger.info(
            "transaction %s mined in block %s (gas %s)",
            receipt["transactionHash"].to_0x_hex(),
            receipt["blockNumber"],
            receipt["gasUsed"],
        )
        return receipt

    def _wait(self, tx_hash: HexBytes) -> TxReceipt:
        try:
            return self._w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=RECEIPT_TIMEOUT, poll_latency=RECEIPT_POLL
            )
        except TimeExhausted as error:
            raise ChainError(
                f"transaction {tx_hash.to_0x_hex()} was not mined within "
                f"{RECEIPT_TIMEOUT:.0f} s; check the node and ask again"
            ) from error
        except OSError as error:
            raise ChainUnavailableError(f"the node stopped answering: {error}") from error

    def _explain_failure(self, call: TxParams, receipt: TxReceipt) -> Exception:
        tx_hash = receipt["transactionHash"].to_0x_hex()
        return explain_failure(self._w3, call, receipt["blockNumber"], tx_hash)

    def _current_fees(self) -> Fees:
        if self._fees is None:
            self._fees = current_fees(self._w3)
        return self._fees


def current_fees(w3: Web3) -> Fees:
    """Fees for the next transactions, read once and reused for a while by callers."""
    latest = rpc(lambda: w3.eth.get_block("latest"))
    base_fee = latest.get("baseFeePerGas")
    if base_fee is None:
        return Fees(0, 0, legacy_gas_price=rpc(lambda: w3.eth.gas_price))
    tip = rpc(lambda: w3.eth.max_priority_fee)
    # Twice the base fee absorbs six full blocks of base-fee growth.
    return Fees(max_fee_per_gas=2 * base_fee + tip, max_priority_fee_per_gas=tip)


def unsigned_transaction(
    *, chain_id: int, nonce: int, gas: int, to: str | None, data: bytes, value: int, fees: Fees
) -> dict[str, Any]:
    """The fields a signer needs, built locally (no node round trips)."""
    tx: dict[str, Any] = {
        "chainId": chain_id,
        "nonce": nonce,
        "gas": gas,
        "value": value,
        "data": HexBytes(data),
    }
    if to is not None:
        tx["to"] = to
    if fees.legacy_gas_price is not None:
        tx["gasPrice"] = fees.legacy_gas_price
    else:
        tx["maxFeePerGas"] = fees.max_fee_per_gas
        tx["maxPriorityFeePerGas"] = fees.max_priority_fee_per_gas
    return tx


def explain_failure(
    w3: Web3, call: TxParams, block_number: int, tx_hash: str
) -> ContractRevertError | TransactionFailedError:
    """Replays a reverted transaction's call on the state before its block to learn why.

    A node that prunes history (anvil ``--prune-history``, a Besu with Bonsai storage) may
    no longer hold that state; then the latest state is asked, which usually still refuses
    for the same reason.
    """
    for block in (block_number - 1, "latest"):
        try:
            w3.eth.call(call, block)
        except ContractLogicError as error:
            return decode_revert(error.data, tx_hash)
        except (Web3RPCError, OSError):
            continue
        break
    return TransactionFailedError(f"transaction {tx_hash} failed on chain", tx_hash)


def rpc(action: Callable[[], T]) -> T:
    """Runs one node call, mapping transport and revert failures to Tutela errors."""
    try:
        result = action()
    except ContractLogicError as error:
        raise decode_revert(error.data) from error
    except Web3RPCError as error:
        message = error.rpc_response.get("error", {}).get("message") if error.rpc_response else None
        raise ChainError(f"the node refused: {message or error}") from error
    except OSError as error:
        raise ChainUnavailableError(f"the node is not answering: {error}") from error
    return result
