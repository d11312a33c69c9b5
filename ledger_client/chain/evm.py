"""The EVM side of the embedded chain: py-evm's chain class, eth-tester's backend, and the
checks and error shapes that make it answer like geth and anvil."""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI, SignedTransactionAPI, StateAPI
from eth.chains.base import MiningChain
from eth.exceptions import Revert
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth.vm.forks.prague import PragueVM
from eth_tester.backends.pyevm.main import PyEVMBackend
from eth_typing import BlockNumber
from eth_utils.exceptions import ValidationError

from ledger_client.chain import rpc_format as fmt

# Forks a chain file may name; a chain keeps its fork for life so that reopening it with a
# newer py-evm never changes the rules under existing blocks.
FORKS = {"prague": PragueVM}
DEFAULT_FORK = "prague"


class JsonRpcError(Exception):
    """A JSON-RPC error answer: ``code``, ``message`` and optional hex ``data``."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        """The ``error`` member of a JSON-RPC response."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def chain_class(chain_id: int, fork: str) -> type[MiningChain]:
    class TutelaChain(MiningChain):
        vm_configuration = ((BlockNumber(0), FORKS[fork]),)

        def create_header_from_parent(
            self, parent_header: BlockHeaderAPI, **header_params: Any
        ) -> BlockHeaderAPI:
            # Like eth-tester: a permissioned chain keeps its gas limit constant.
            params = {**header_params, "gas_limit": parent_header.gas_limit}
            return super().create_header_from_parent(parent_header, **params)

        def get_transaction_builder(self) -> Any:
            # eth-tester's transaction normalisation expects this on the chain.
            return self.get_vm().get_transaction_builder()

    TutelaChain.chain_id = chain_id
    return TutelaChain


class Backend(PyEVMBackend):  # type: ignore[misc]
    """eth-tester's backend over a chain we built on our store instead of a memory db."""

    def __init__(self, chain: MiningChain) -> None:
        # Deliberately not calling super().__init__: it builds a fresh in-memory chain.
        self.chain = chain
        self.account_keys = ()  # no unlocked accounts: every transaction arrives signed

    def unsigned_transaction(self, call: dict[str, Any], block_number: int) -> Any:
        """Normalise an eth-tester transaction dict into a py-evm unsigned transaction."""
        return self._get_normalized_and_unsigned_evm_transaction(call, block_number)


def pool_check(
    tx: SignedTransactionAPI, *, chain_id: int, head: BlockHeaderAPI, state: StateAPI
) -> None:
    """Reject what geth's pool would, with its messages, before anything is mined.

    Raises:
        JsonRpcError: the transaction would not be accepted.
    """
    if getattr(tx, "type_id", 0) == 3:
        raise JsonRpcError(-32003, "blob transactions are not supported")
    try:
        tx.check_signature_validity()
        sender = tx.sender
    except (ValidationError, ValueError) as error:
        raise JsonRpcError(-32003, f"invalid sender: {error}") from error
    if tx.chain_id is None:
        raise JsonRpcError(-32003, "only replay-protected (EIP-155) transactions allowed")
    if tx.chain_id != chain_id:
        raise JsonRpcError(-32003, f"invalid chain id for signer: {tx.chain_id}")
    expected = state.get_nonce(sender)
    if tx.nonce != expected:
        too = "low" if tx.nonce < expected else "high"
        raise JsonRpcError(-32003, f"nonce too {too}: next nonce {expected}, tx nonce {tx.nonce}")
    if tx.gas < tx.intrinsic_gas:
        raise JsonRpcError(
            -32003, f"intrinsic gas too low: gas {tx.gas}, minimum needed {tx.intrinsic_gas}"
        )
    if tx.gas > head.gas_limit:
        raise JsonRpcError(-32003, f"exceeds block gas limit: gas {tx.gas}")
    base_fee = calculate_expected_base_fee_per_gas(head)
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        raise JsonRpcError(-32003, "max priority fee per gas higher than max fee per gas")
    if tx.max_fee_per_gas < base_fee:
        raise JsonRpcError(
            -32003,
            f"max fee per gas less than block base fee: maxFeePerGas: "
            f"{tx.max_fee_per_gas}, baseFee: {base_fee}",
        )
    balance, cost = state.get_balance(sender), tx.gas * tx.max_fee_per_gas + tx.value
    if balance < cost:
        raise JsonRpcError(
            -32003,
            f"insufficient funds for gas * price + value: balance {balance}, "
            f"tx cost {cost}, overshot {cost - balance}",
        )


def vm_error(error: Any, output: bytes) -> JsonRpcError:
    """Report a failed call the way anvil 1.5.1 does."""
    if isinstance(error, Revert):
        return JsonRpcError(3, fmt.revert_message(output), fmt.data(output))
    return JsonRpcError(-32603, f"EVM error {type(error).__name__}")
