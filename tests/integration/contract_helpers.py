"""Shared helpers of the contract suite: the actors, children, requests, time, and assertions.

The contract suite drives ChildRegistry and CrossingLedger through the Python client
(``ledger_client.contracts``) on both the embedded chain and anvil. Every test draws fresh
random child ids and guardian keys, so tests that share one deployment (a module-scoped
world) never see each other's children or requests.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.types import TxReceipt

from ledger_client.contracts.reverts import CustomContractError
from ledger_client.contracts.sender import TransactionSender
from ledger_client.contracts.typed_data import decision_message
from ledger_client.contracts.types import (
    ChildId,
    Direction,
    Outcome,
    PolicyKind,
    RequestId,
    RequestStatus,
    _Chained,
)
from ledger_client.contracts.wrappers import (
    ChildRegistryContract,
    CrossingLedgerContract,
    GuardianKey,
    Policy,
    _Wrapper,
    encode_border_point,
)
from ledger_client.keys import LocalSigner
from ledger_client.services.context import Tutela, staff_acting_as
from ledger_client.services.setup import fund
from ledger_client.store.models import StaffRole
from tests.conftest import FAST_KEYSTORES, World, _world, make_settings

ZERO32 = bytes(32)
HOUR = 3600
DAY = 24 * HOUR
MAX_REQUEST_LIFETIME = 7 * DAY
BORDER_POINT = "RO-SIGHET"
ANY = Policy(PolicyKind.ANY)
ALL = Policy(PolicyKind.ALL)
PENDING, APPROVED, DENIED = RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.DENIED
OVERRIDDEN, EXPIRED = RequestStatus.OVERRIDDEN, RequestStatus.EXPIRED
CROSSED, TURNED_BACK = RequestStatus.CROSSED, RequestStatus.TURNED_BACK
DEFAULT_ADMIN_ROLE = ZERO32
# Enough for a guardian's few transactions where gas costs money; the admin's own funds
# (1,000 ether on anvil) must last a module-scoped world that funds many guardians.
GUARDIAN_FUNDING = 10**17

CHAINS = ["embedded", pytest.param("anvil", marks=pytest.mark.anvil)]


def shared_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One initialised Tutela for a whole module, on the chain named by ``request.param``.

    For modules whose tests each draw their own children and requests: deploying costs far
    more than any one test, and nothing a test does can change what another one reads.
    """
    url = None if request.param == "embedded" else str(request.getfixturevalue("anvil_url"))
    data_dir: Path = tmp_path_factory.mktemp(f"world-{request.param}") / "data"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("TUTELA_KEYSTORE_WORK_FACTOR", FAST_KEYSTORES)
        for name in ("TUTELA_DATA_DIR", "TUTELA_CHAIN_URL", "TUTELA_DATABASE_URL", "TUTELA_ENV"):
            monkeypatch.delenv(name, raising=False)
        yield from _world(make_settings(data_dir, url, monkeypatch))


# ---- the actors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guardian:
    """A guardian's own key (never a staff keystore) and what the registry stores of it."""

    signer: LocalSigner
    key: GuardianKey

    @property
    def address(self) -> str:
        return self.signer.address

    @property
    def document(self) -> bytes:
        return self.key.document_commitment


@dataclass(frozen=True)
class Child:
    child_id: ChildId
    commitment: bytes
    guardians: tuple[Guardian, ...]
    policy: Policy

    def as_input(self) -> tuple[ChildId, bytes, list[GuardianKey], Policy]:
        return (self.child_id, self.commitment, [g.key for g in self.guardians], self.policy)


class Desk:
    """Everyone who acts on the contracts in a test, with the few steps every test repeats."""

    def __init__(self, world: World) -> None:
        self.tutela: Tutela = world.tutela
        self.w3: Web3 = world.tutela.w3
        self.registry: ChildRegistryContract = world.tutela.registry
        self.ledger: CrossingLedgerContract = world.tutela.ledger
        with self.tutela.database.transaction() as session:
            members = {
                role: staff_acting_as(session, role, None)
                for role in (
                    StaffRole.ADMIN,
                    StaffRole.REGISTRAR,
                    StaffRole.BORDER_OFFICER,
                    StaffRole.CHILD_PROTECTION,
                    StaffRole.RELAYER,
                )
            }
            self.admin = self.tutela.sender_for(members[StaffRole.ADMIN])
            self.registrar = self.tutela.sender_for(members[StaffRole.REGISTRAR])
            self.officer = self.tutela.sender_for(members[StaffRole.BORDER_OFFICER])
            self.protector = self.tutela.sender_for(members[StaffRole.CHILD_PROTECTION])
            self.relayer = self.tutela.sender_for(members[StaffRole.RELAYER])

    # -- accounts

    def sender(self, signer: LocalSigner) -> TransactionSender:
        return TransactionSender(self.w3, signer, self.tutela.chain_id)

    def fund(self, address: str) -> None:
        fund(self.admin, self.w3, address, GUARDIAN_FUNDING)

    def guardian(self, *, funded: bool = False, document: bytes | None = None) -> Guardian:
        signer = LocalSigner.from_key(secrets.token_bytes(32))
        if funded:
            self.fund(signer.address)
        commitment = document if document is not None else secrets.token_bytes(32)
        return Guardian(signer, GuardianKey(signer.address, commitment))

    # -- the registry

    def new_child(self, guardians: int | Sequence[Guardian] = 2, policy: Policy = ANY) -> Child:
        """A child that is not registered yet, with fresh guardians unless some are given."""
        chosen = (
            tuple(self.guardian() for _ in range(guardians))
            if isinstance(guardians, int)
            else tuple(guardians)
        )
        return Child(ChildId(secrets.token_bytes(16)), secrets.token_bytes(32), chosen, policy)

    def register(self, guardians: int | Sequence[Guardian] = 2, policy: Policy = ANY) -> Child:
        child = self.new_child(guardians, policy)
        self.registrar.transact(self.registry.register_child(*child.as_input()))
        return child

    # -- the ledger

    def request(
        self,
        child: Child,
        *,
        direction: Direction = Direction.EXIT,
        companion: bytes = ZERO32,
        lifetime: int = HOUR,
    ) -> RequestId:
        receipt = self.officer.transact(
            self.ledger.request_crossing(
                child.child_id, direction, BORDER_POINT, companion, self.now() + lifetime
            )
        )
        return self.ledger.request_id_from(receipt)

    def sign(
        self,
        guardian: Guardian,
        request_id: int,
        approve: bool,
        *,
        deadline: int | None = None,
        chain_id: int | None = None,
        ledger_address: str | None = None,
        signer: LocalSigner | None = None,
    ) -> tuple[int, bytes]:
        """A decision signed over EIP-712 as the portal would, with parts to tamper with."""
        chosen_deadline = self.now() + 10 * 60 if deadline is None else deadline
        message = decision_message(
            chain_id=self.tutela.chain_id if chain_id is None else chain_id,
            ledger_address=self.ledger.address if ledger_address is None else ledger_address,
            request_id=request_id,
            guardian=guardian.address,
            approve=approve,
            deadline=chosen_deadline,
        )
        return chosen_deadline, (signer or guardian.signer).sign_typed_data(message)

    def relay(self, guardian: Guardian, request_id: int, approve: bool) -> TxReceipt:
        """The guardian signs a decision and the relayer, who holds no role, sends it."""
        deadline, signature = self.sign(guardian, request_id, approve)
        return self.relayer.transact(
            self.ledger.decide_by_sig(
                RequestId(request_id), guardian.address, approve, deadline, signature
            )
        )

    def decide(
        self, guardian: Guardian, request_id: int, approve: bool
    ) -> tuple[bool, RequestStatus]:
        """The guardian decides from its own account; returns GuardianDecided's counted, status."""
        self.fund(guardian.address)
        receipt = self.sender(guardian.signer).transact(
            self.ledger.decide(RequestId(request_id), approve)
        )
        (decided,) = self.ledger.events_in(receipt)
        counted = bool(decided.args["counted"])
        status = RequestStatus(RequestStatus.from_ordinal(decided.args["status"]))
        assert_events(
            self.ledger,
            receipt,
            guardian_decided(request_id, guardian.address, approve, counted, status),
        )
        return counted, status

    def protect(self, request_id: int, approve: bool) -> RequestStatus:
        """The child-protection officer decides; returns the status ProtectionDecided reports."""
        receipt = self.protector.transact(
            self.ledger.protection_decide(RequestId(request_id), approve)
        )
        (decided,) = self.ledger.events_in(receipt)
        status = RequestStatus(RequestStatus.from_ordinal(decided.args["status"]))
        officer = self.protector.address
        args = {"requestId": request_id, "officer": officer, "approved": approve, "status": status}
        assert_events(self.ledger, receipt, event("ProtectionDecided", **args))
        return status

    def override(self, request_id: int, court_order_hash: bytes) -> None:
        receipt = self.protector.transact(
            self.ledger.override_by_court_order(RequestId(request_id), court_order_hash)
        )
        officer = self.protector.address
        args = {"requestId": request_id, "officer": officer, "courtOrderHash": court_order_hash}
        assert_events(self.ledger, receipt, event("CrossingOverridden", **args))

    def record(self, child: Child, request_id: int, outcome: Outcome = Outcome.CROSSED) -> None:
        receipt = self.officer.transact(self.ledger.record_outcome(RequestId(request_id), outcome))
        args = {"childId": child.child_id, "outcome": outcome, "officer": self.officer.address}
        assert_events(self.ledger, receipt, event("CrossingRecorded", requestId=request_id, **args))

    def status(self, request_id: int) -> RequestStatus:
        return self.ledger.get_request(RequestId(request_id)).status

    # -- time

    def now(self) -> int:
        return self.tutela.chain_time()

    def block_time(self) -> int:
        """The timestamp of the latest block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance_past(self, moment: int) -> None:
        """Moves the chain's clock until its latest block is later than ``moment``.

        A node stamps a block with the wall clock plus the offset that ``evm_increaseTime``
        moves, but never earlier than its parent; the embedded chain keeps at least a second
        between blocks, so after many blocks within a second it runs ahead of its clock, and
        that lead absorbs part of an increase. So the clock is moved until the blocks show it.
        """
        while (latest := self.block_time()) <= moment:
            self.w3.provider.make_request("evm_increaseTime", [moment - latest + 1])  # type: ignore[arg-type]
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


# ---- assertions ------------------------------------------------------------------------------


def _normal(value: Any) -> Any:
    """One spelling per value: enum members as their ordinals, addresses checksummed."""
    if isinstance(value, _Chained):
        return value.ordinal
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def _normal_args(args: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _normal(value) for name, value in args.items()}


@contextmanager
def reverts(error: type[CustomContractError], **arguments: Any) -> Iterator[None]:
    """Expects exactly ``error`` with exactly these decoded arguments (all of them)."""
    with pytest.raises(error) as caught:
        yield
    assert type(caught.value) is error
    assert _normal_args(caught.value.arguments) == _normal_args(arguments)


def each_reverts(
    error: type[CustomContractError], arguments: Mapping[str, Any], *calls: Callable[[], object]
) -> None:
    """Each call is refused with exactly ``error`` and ``arguments``."""
    for call in calls:
        with reverts(error, **arguments):
            call()


def event(name: str, **args: Any) -> tuple[str, dict[str, Any]]:
    return (name, _normal_args(args))


def registered(child: Child) -> list[tuple[str, dict[str, Any]]]:
    """The events of a child's registration: ChildRegistered, then GuardianAdded for each."""
    kind, threshold = child.policy.as_tuple()
    return [
        event(
            "ChildRegistered",
            childId=child.child_id,
            commitment=child.commitment,
            policyKind=kind,
            threshold=threshold,
        ),
        *(guardian_added(child.child_id, g.address, g.document) for g in child.guardians),
    ]


def requested(
    desk: Desk, request_id: int, child: Child, direction: Direction, companion: bytes, expires: int
) -> tuple[str, dict[str, Any]]:
    return event(
        "CrossingRequested",
        requestId=request_id,
        childId=child.child_id,
        companionCommitment=companion,
        direction=direction,
        borderPoint=encode_border_point(BORDER_POINT),
        expiresAt=expires,
        officer=desk.officer.address,
    )


def guardian_added(child_id: bytes, guardian: str, document: bytes) -> tuple[str, dict[str, Any]]:
    return event("GuardianAdded", childId=child_id, guardian=guardian, documentCommitment=document)


def guardian_removed(child_id: bytes, guardian: str) -> tuple[str, dict[str, Any]]:
    return event("GuardianRemoved", childId=child_id, guardian=guardian)


def guardian_decided(
    request_id: int, guardian: str, approved: bool, counted: bool, status: _Chained
) -> tuple[str, dict[str, Any]]:
    return event(
        "GuardianDecided",
        requestId=request_id,
        guardian=guardian,
        approved=approved,
        counted=counted,
        status=status,
    )


def assert_events(
    wrapper: _Wrapper, receipt: TxReceipt, *expected: tuple[str, dict[str, Any]]
) -> None:
    """Every log of the receipt, in order, is exactly one of ``expected``, from ``wrapper``."""
    assert receipt["status"] == 1
    assert [log["address"] for log in receipt["logs"]] == [wrapper.address] * len(expected)
    found = [(e.name, _normal_args(e.args)) for e in wrapper.events_in(receipt)]
    assert found == list(expected)


@dataclass(frozen=True)
class Between:
    """Equal to any integer from ``low`` to ``high``: a ``currentTime`` reported by a revert.

    The node decides the timestamp of the block a call runs in (the embedded chain moves at
    least one second a block), so a test can only bound it by the times read around the call.
    """

    low: int
    high: int

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and self.low <= other <= self.high

    def __hash__(self) -> int:
        return hash((self.low, self.high))
