"""Every custom error of the contracts as a Python exception, decoded in this one place.

eth-tester and anvil report reverts differently; the embedded node answers like anvil (JSON-RPC
error 3 with the revert bytes as ``data``), so one decoder serves every chain. A test compares
:data:`REVERT_CLASSES` with the errors in the ABIs, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from ledger_client.contracts.types import ChildStatus, PolicyKind, RequestStatus, _Chained
from ledger_client.errors import ContractRevertError

REVERT_CLASSES: dict[str, type[CustomContractError]] = {}


class CustomContractError(ContractRevertError):
    """A custom error of a Tutela contract; subclasses fill ``signature`` and ``template``."""

    signature: ClassVar[str] = ""
    argument_names: ClassVar[tuple[str, ...]] = ()
    template: ClassVar[str] = ""
    enums: ClassVar[dict[str, type[_Chained]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.solidity_name = cls.signature.split("(", 1)[0]
        cls.selector = "0x" + function_signature_to_4byte_selector(cls.signature).hex()
        REVERT_CLASSES[cls.selector] = cls

    @classmethod
    def from_data(cls, payload: bytes, tx_hash: str | None = None) -> CustomContractError:
        types = _argument_types(cls.signature)
        values = decode(types, payload) if types else ()
        # eth_abi gives addresses in lower case; everything else in Tutela shows checksums.
        values = tuple(
            to_checksum_address(v) if t == "address" else v
            for t, v in zip(types, values, strict=True)
        )
        arguments = dict(zip(cls.argument_names, values, strict=True))
        shown = {name: _show(cls.enums.get(name), value) for name, value in arguments.items()}
        return cls(cls.template.format(**shown), arguments, tx_hash)


def decode_revert(data: object, tx_hash: str | None = None) -> ContractRevertError:
    """Turns raw revert bytes into the matching exception.

    Unknown selectors, ``Error(string)`` and panics become a plain ``ContractRevertError``
    whose message still says what the chain said.
    """
    if isinstance(data, str):
        raw = bytes.fromhex(data.removeprefix("0x"))
    elif isinstance(data, bytes):
        raw = data
    else:  # web3 gives None, or a dict, when the node sent no revert bytes
        raw = b""
    error = _decode(raw, tx_hash)
    # Kept so an outbox can store a failure and raise the same typed error after a restart.
    error.revert_data = "0x" + raw.hex() if raw else None
    return error


def _decode(raw: bytes, tx_hash: str | None) -> ContractRevertError:
    selector = "0x" + raw[:4].hex()
    known = REVERT_CLASSES.get(selector)
    if known is not None:
        try:
            return known.from_data(raw[4:], tx_hash)
        except DecodingError:
            pass
    if selector == "0x08c379a0":
        try:
            (reason,) = decode(["string"], raw[4:])
            return ContractRevertError(f"the contract refused: {reason}", tx_hash=tx_hash)
        except DecodingError:
            pass
    if not raw:
        return ContractRevertError(
            "the contract refused the action without a reason", None, tx_hash
        )
    return ContractRevertError(f"the contract refused the action (error {selector})", None, tx_hash)


def _argument_types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : -1]
    return [t for t in inner.split(",") if t]


def _show(enum: type[_Chained] | None, value: object) -> str:
    if enum is not None and isinstance(value, int):
        return str(enum.from_ordinal(value))
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    return str(value)


# ---- OpenZeppelin errors the contracts inherit ----------------------------------------------


class AccessControlUnauthorizedAccount(CustomContractError):
    signature = "AccessControlUnauthorizedAccount(address,bytes32)"
    argument_names = ("account", "neededRole")
    template = "account {account} does not hold the role this action needs ({neededRole})"


class AccessControlBadConfirmation(CustomContractError):
    signature = "AccessControlBadConfirmation()"
    template = "an account can only renounce its own roles"


class AccessControlEnforcedDefaultAdminRules(CustomContractError):
    signature = "AccessControlEnforcedDefaultAdminRules()"
    template = "the admin role moves only through the two-step, delayed admin transfer"


class AccessControlInvalidDefaultAdmin(CustomContractError):
    signature = "AccessControlInvalidDefaultAdmin(address)"
    argument_names = ("defaultAdmin",)
    template = "{defaultAdmin} cannot become the admin"


class AccessControlEnforcedDefaultAdminDelay(CustomContractError):
    signature = "AccessControlEnforcedDefaultAdminDelay(uint48)"
    argument_names = ("schedule",)
    template = "the admin transfer cannot complete before its delay ends ({schedule})"


class SafeCastOverflowedUintDowncast(CustomContractError):
    signature = "SafeCastOverflowedUintDowncast(uint8,uint256)"
    argument_names = ("bits", "value")
    template = "the value {value} does not fit in {bits} bits"


class InvalidShortString(CustomContractError):
    signature = "InvalidShortString()"
    template = "the contract's EIP-712 name is malformed"


class StringTooLong(CustomContractError):
    signature = "StringTooLong(string)"
    argument_names = ("str",)
    template = "the string {str} is too long"


# ---- ChildRegistry ---------------------------------------------------------------------------


class ChildRegistryInvalidChildId(CustomContractError):
    signature = "ChildRegistryInvalidChildId(bytes16)"
    argument_names = ("childId",)
    template = "{childId} is not a valid child id"


class ChildRegistryInvalidCommitment(CustomContractError):
    signature = "ChildRegistryInvalidCommitment(bytes16)"
    argument_names = ("childId",)
    template = "the commitment of child {childId} is empty"


class ChildRegistryAlreadyRegistered(CustomContractError):
    signature = "ChildRegistryAlreadyRegistered(bytes16)"
    argument_names = ("childId",)
    template = "a child is already registered under id {childId}"


class ChildRegistryUnknownChild(CustomContractError):
    signature = "ChildRegistryUnknownChild(bytes16)"
    argument_names = ("childId",)
    template = "no child is registered under id {childId}"


class ChildRegistryChildNotActive(CustomContractError):
    signature = "ChildRegistryChildNotActive(bytes16,uint8)"
    argument_names = ("childId", "status")
    template = "child {childId} is {status}: its record can no longer change"
    enums = {"status": ChildStatus}  # noqa: RUF012 - class-level constant table


class ChildRegistryInvalidGuardian(CustomContractError):
    signature = "ChildRegistryInvalidGuardian(bytes16,address)"
    argument_names = ("childId", "guardian")
    template = "guardian {guardian} of child {childId} has no account or no document commitment"


class ChildRegistryDuplicateGuardian(CustomContractError):
    signature = "ChildRegistryDuplicateGuardian(bytes16,address)"
    argument_names = ("childId", "guardian")
    template = "{guardian} is already a guardian of child {childId}"


class ChildRegistryNotGuardian(CustomContractError):
    signature = "ChildRegistryNotGuardian(bytes16,address)"
    argument_names = ("childId", "guardian")
    template = "{guardian} is not a guardian of child {childId}"


class ChildRegistryTooManyGuardians(CustomContractError):
    signature = "ChildRegistryTooManyGuardians(bytes16,uint256)"
    argument_names = ("childId", "count")
    template = "child {childId} cannot have {count} guardians"


class ChildRegistryInvalidPolicy(CustomContractError):
    signature = "ChildRegistryInvalidPolicy(bytes16,uint8,uint8,uint256)"
    argument_names = ("childId", "kind", "threshold", "guardianCount")
    template = (
        "the approval policy {kind} (threshold {threshold}) cannot be met by "
        "{guardianCount} guardian(s) of child {childId}"
    )
    enums = {"kind": PolicyKind}  # noqa: RUF012


# ---- CrossingLedger --------------------------------------------------------------------------


class CrossingLedgerChildNotActive(CustomContractError):
    signature = "CrossingLedgerChildNotActive(bytes16,uint8)"
    argument_names = ("childId", "status")
    template = "child {childId} cannot cross: its record is {status}"
    enums = {"status": ChildStatus}  # noqa: RUF012


class CrossingLedgerInvalidExpiry(CustomContractError):
    signature = "CrossingLedgerInvalidExpiry(uint40,uint40)"
    argument_names = ("expiresAt", "currentTime")
    template = (
        "a request must expire after now and within 7 days (asked {expiresAt}, now {currentTime})"
    )


class CrossingLedgerUnknownRequest(CustomContractError):
    signature = "CrossingLedgerUnknownRequest(uint64)"
    argument_names = ("requestId",)
    template = "there is no crossing request {requestId}"


class CrossingLedgerRequestExpired(CustomContractError):
    signature = "CrossingLedgerRequestExpired(uint64,uint40)"
    argument_names = ("requestId", "expiresAt")
    template = "crossing request {requestId} has expired"


class CrossingLedgerRequestNotPending(CustomContractError):
    signature = "CrossingLedgerRequestNotPending(uint64,uint8)"
    argument_names = ("requestId", "status")
    template = "crossing request {requestId} is {status}: it takes no more decisions"
    enums = {"status": RequestStatus}  # noqa: RUF012


class CrossingLedgerNoApprovalNeeded(CustomContractError):
    signature = "CrossingLedgerNoApprovalNeeded(uint64)"
    argument_names = ("requestId",)
    template = "crossing request {requestId} is an entry: it needs no approval"


class CrossingLedgerNotGuardian(CustomContractError):
    signature = "CrossingLedgerNotGuardian(uint64,address)"
    argument_names = ("requestId", "account")
    template = "{account} is not a guardian of the child in crossing request {requestId}"


class CrossingLedgerAlreadyDecided(CustomContractError):
    signature = "CrossingLedgerAlreadyDecided(uint64,address)"
    argument_names = ("requestId", "account")
    template = "{account} has already decided on crossing request {requestId}"


class CrossingLedgerSignatureExpired(CustomContractError):
    signature = "CrossingLedgerSignatureExpired(uint256,uint256)"
    argument_names = ("deadline", "currentTime")
    template = "the signed decision expired (deadline {deadline}, now {currentTime})"


class CrossingLedgerInvalidSignature(CustomContractError):
    signature = "CrossingLedgerInvalidSignature(uint64,address)"
    argument_names = ("requestId", "guardian")
    template = "the signature on the decision for request {requestId} is not {guardian}'s"


class CrossingLedgerInvalidCourtOrder(CustomContractError):
    signature = "CrossingLedgerInvalidCourtOrder(uint64)"
    argument_names = ("requestId",)
    template = "an override of request {requestId} needs a court order reference"


class CrossingLedgerNotApproved(CustomContractError):
    signature = "CrossingLedgerNotApproved(uint64,uint8)"
    argument_names = ("requestId", "status")
    template = "crossing request {requestId} is {status}, not approved: the child may not cross"
    enums = {"status": RequestStatus}  # noqa: RUF012


class CrossingLedgerRequestClosed(CustomContractError):
    signature = "CrossingLedgerRequestClosed(uint64,uint8)"
    argument_names = ("requestId", "status")
    template = "crossing request {requestId} is already closed ({status})"
    enums = {"status": RequestStatus}  # noqa: RUF012


class CrossingLedgerRulesChanged(CustomContractError):
    signature = "CrossingLedgerRulesChanged(uint64)"
    argument_names = ("requestId",)
    template = (
        "the child's guardians or approval policy changed after crossing request {requestId} "
        "was made: ask again"
    )


# ---- AuditAnchor -----------------------------------------------------------------------------


class AuditAnchorNotNewer(CustomContractError):
    signature = "AuditAnchorNotNewer(uint64,uint64)"
    argument_names = ("last", "given")
    template = (
        "the audit log was anchored at {last} entries already: an anchor of {given} is not newer"
    )


class AuditAnchorEmptyHead(CustomContractError):
    signature = "AuditAnchorEmptyHead(uint64)"
    argument_names = ("entryCount",)
    template = "an audit anchor needs entries and a head hash (given {entryCount} entries)"
