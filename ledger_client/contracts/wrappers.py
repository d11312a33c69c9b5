"""Typed wrappers of ChildRegistry, CrossingLedger and AuditAnchor.

Writes return the ``ContractFunction`` to hand to :class:`TransactionSender`; reads and event
decoding return frozen dataclasses, so callers above this layer never see web3 objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from ledger_client.contracts.artifacts import load_artifact
from ledger_client.contracts.sender import rpc
from ledger_client.contracts.types import (
    ChildId,
    ChildStatus,
    Direction,
    Outcome,
    PolicyKind,
    RequestId,
    RequestStatus,
)
from ledger_client.errors import ChainUnavailableError

CONTRACT_VERSION = "1.0.0"


@dataclass(frozen=True)
class Policy:
    kind: PolicyKind
    threshold: int = 0

    def __str__(self) -> str:
        if self.kind is PolicyKind.K_OF_N:
            return f"{self.threshold}-of-n"
        return str(self.kind)

    def as_tuple(self) -> tuple[int, int]:
        return (self.kind.ordinal, self.threshold if self.kind is PolicyKind.K_OF_N else 0)


@dataclass(frozen=True)
class GuardianKey:
    account: ChecksumAddress
    document_commitment: bytes

    def as_tuple(self) -> tuple[str, bytes]:
        return (self.account, self.document_commitment)

    @classmethod
    def stored(cls, address: str, document_commitment_hex: str) -> GuardianKey:
        """The key of a guardian as the store keeps it (hex strings)."""
        document = bytes.fromhex(document_commitment_hex.removeprefix("0x"))
        return cls(Web3.to_checksum_address(address), document)


@dataclass(frozen=True)
class ChildRecord:
    status: ChildStatus
    policy: Policy
    guardian_count: int
    registered_at: int
    revision: int


@dataclass(frozen=True)
class RequestState:
    request_id: RequestId
    child_id: ChildId
    direction: Direction
    status: RequestStatus
    expires_at: int
    approvals: int
    guardian_approved: bool
    protection_decided: bool
    family_rule_applied: bool


@dataclass(frozen=True)
class ChainEvent:
    """One decoded event with where it sits on the chain, for proofs and history."""

    name: str
    args: dict[str, Any]
    block_number: int
    tx_hash: str
    log_index: int


class _Wrapper:
    contract_name = ""

    def __init__(self, w3: Web3, address: str) -> None:
        artifact = load_artifact(self.contract_name)
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=artifact.abi)
        self._w3 = w3

    def version(self) -> str:
        return str(self._call(self.contract.functions.version()))

    def has_role(self, role: str, account: str) -> bool:
        role_id = self._call(getattr(self.contract.functions, role)())
        return bool(self._call(self.contract.functions.hasRole(role_id, account)))

    def role_id(self, role: str) -> bytes:
        return bytes(self._call(getattr(self.contract.functions, role)()))

    def grant_role(self, role: str, account: str) -> ContractFunction:
        return self.contract.functions.grantRole(self.role_id(role), account)

    def revoke_role(self, role: str, account: str) -> ContractFunction:
        return self.contract.functions.revokeRole(self.role_id(role), account)

    def events_in(self, receipt: TxReceipt) -> list[ChainEvent]:
        """Decodes this contract's events from a receipt, in log order."""
        found: list[ChainEvent] = []
        for event in self.contract.all_events():
            found.extend(_event(e) for e in event.process_receipt(receipt, errors=DISCARD))
        return sorted(found, key=lambda e: e.log_index)

    def events(
        self, name: str, *, from_block: int, argument_filters: dict[str, Any] | None = None
    ) -> list[ChainEvent]:
        """Reads one kind of event from the chain (``eth_getLogs``)."""
        event = getattr(self.contract.events, name)
        try:
            logs: Iterable[EventData] = event().get_logs(
                from_block=from_block, argument_filters=argument_filters or {}
            )
            return [_event(log) for log in logs]
        except OSError as error:
            raise ChainUnavailableError(f"the node is not answering: {error}") from error

    def _call(self, function: ContractFunction) -> Any:
        # rpc() maps a revert to its typed error, a refusal to ChainError, a dead node to
        # ChainUnavailableError.
        return rpc(function.call)


class ChildRegistryContract(_Wrapper):
    contract_name = "ChildRegistry"

    def register_child(
        self,
        child_id: ChildId,
        commitment: bytes,
        guardians: Sequence[GuardianKey],
        policy: Policy,
    ) -> ContractFunction:
        return self.contract.functions.registerChild(
            child_id, commitment, [g.as_tuple() for g in guardians], policy.as_tuple()
        )

    def register_children(
        self, children: Sequence[tuple[ChildId, bytes, Sequence[GuardianKey], Policy]]
    ) -> ContractFunction:
        return self.contract.functions.registerChildren(
            [
                (child_id, commitment, [g.as_tuple() for g in guardians], policy.as_tuple())
                for child_id, commitment, guardians, policy in children
            ]
        )

    def add_guardian(self, child_id: ChildId, guardian: GuardianKey) -> ContractFunction:
        return self.contract.functions.addGuardian(child_id, guardian.as_tuple())

    def remove_guardian(self, child_id: ChildId, account: str) -> ContractFunction:
        return self.contract.functions.removeGuardian(child_id, account)

    def replace_guardian_account(
        self, child_id: ChildId, old_account: str, new_account: str
    ) -> ContractFunction:
        return self.contract.functions.replaceGuardianAccount(child_id, old_account, new_account)

    def set_policy(self, child_id: ChildId, policy: Policy) -> ContractFunction:
        return self.contract.functions.setPolicy(child_id, policy.as_tuple())

    def revoke_child(self, child_id: ChildId, reason_code: int) -> ContractFunction:
        return self.contract.functions.revokeChild(child_id, reason_code)

    def supersede_child(
        self,
        child_id: ChildId,
        successor_id: ChildId,
        commitment: bytes,
        guardians: Sequence[GuardianKey],
        policy: Policy,
    ) -> ContractFunction:
        return self.contract.functions.supersedeChild(
            child_id,
            successor_id,
            commitment,
            [g.as_tuple() for g in guardians],
            policy.as_tuple(),
        )

    def child_record(self, child_id: ChildId) -> ChildRecord:
        status, kind, threshold, count, registered_at, revision = self._call(
            self.contract.functions.childRecord(child_id)
        )
        policy_kind = PolicyKind.from_ordinal(kind)
        return ChildRecord(
            status=ChildStatus(ChildStatus.from_ordinal(status)),
            policy=Policy(PolicyKind(policy_kind), threshold),
            guardian_count=count,
            registered_at=registered_at,
            revision=revision,
        )

    def guardian_document(self, child_id: ChildId, account: str) -> bytes:
        return bytes(self._call(self.contract.functions.guardianDocument(child_id, account)))


class CrossingLedgerContract(_Wrapper):
    contract_name = "CrossingLedger"

    def request_crossing(
        self,
        child_id: ChildId,
        direction: Direction,
        border_point: str,
        companion_commitment: bytes,
        expires_at: int,
    ) -> ContractFunction:
        return self.contract.functions.requestCrossing(
            child_id,
            direction.ordinal,
            encode_border_point(border_point),
            companion_commitment,
            expires_at,
        )

    def decide(self, request_id: RequestId, approve: bool) -> ContractFunction:
        return self.contract.functions.decide(request_id, approve)

    def decide_by_sig(
        self,
        request_id: RequestId,
        guardian: str,
        approve: bool,
        deadline: int,
        signature: bytes,
    ) -> ContractFunction:
        return self.contract.functions.decideBySig(
            request_id, guardian, approve, deadline, signature
        )

    def protection_decide(self, request_id: RequestId, approve: bool) -> ContractFunction:
        return self.contract.functions.protectionDecide(request_id, approve)

    def override_by_court_order(
        self, request_id: RequestId, court_order_hash: bytes
    ) -> ContractFunction:
        return self.contract.functions.overrideByCourtOrder(request_id, court_order_hash)

    def record_outcome(self, request_id: RequestId, outcome: Outcome) -> ContractFunction:
        return self.contract.functions.recordOutcome(request_id, outcome.ordinal)

    def get_request(self, request_id: RequestId) -> RequestState:
        raw = self._call(self.contract.functions.getRequest(request_id))
        child_id, direction, status, expires_at, approvals, guardian, protection, family = raw
        return RequestState(
            request_id=request_id,
            child_id=ChildId(bytes(child_id)),
            direction=Direction(Direction.from_ordinal(direction)),
            status=RequestStatus(RequestStatus.from_ordinal(status)),
            expires_at=expires_at,
            approvals=approvals,
            guardian_approved=guardian,
            protection_decided=protection,
            family_rule_applied=family,
        )

    def decision_digest(
        self, request_id: RequestId, guardian: str, approve: bool, deadline: int
    ) -> bytes:
        return bytes(
            self._call(
                self.contract.functions.decisionDigest(request_id, guardian, approve, deadline)
            )
        )

    def request_id_from(self, receipt: TxReceipt) -> RequestId:
        for event in self.events_in(receipt):
            if event.name == "CrossingRequested":
                return RequestId(int(event.args["requestId"]))
        raise ValueError("the receipt holds no CrossingRequested event")


@dataclass(frozen=True)
class AnchorRecord:
    """The audit anchor's last anchor (all zero before the first)."""

    entry_count: int
    head: bytes
    anchored_at: int


class AuditAnchorContract(_Wrapper):
    contract_name = "AuditAnchor"

    def anchor(self, entry_count: int, head: bytes) -> ContractFunction:
        return self.contract.functions.anchor(entry_count, head)

    def latest(self) -> AnchorRecord:
        entry_count, head, anchored_at = self._call(self.contract.functions.latest())
        return AnchorRecord(int(entry_count), bytes(head), int(anchored_at))


def encode_border_point(code: str) -> bytes:
    """A border point code as the contract's ``bytes16``: ASCII, right-padded with zeros."""
    raw = code.encode("ascii")
    if len(raw) > 16:
        raise ValueError("a border point code has at most 16 characters")
    return raw.ljust(16, b"\0")


def decode_border_point(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("ascii", errors="replace")


def _event(log: EventData) -> ChainEvent:
    return ChainEvent(
        name=log["event"],
        args=dict(log["args"]),
        block_number=log["blockNumber"],
        tx_hash=log["transactionHash"].to_0x_hex(),
        log_index=log["logIndex"],
    )
