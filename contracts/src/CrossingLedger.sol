// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IChildRegistry} from "./IChildRegistry.sol";
import {ICrossingLedger} from "./ICrossingLedger.sol";

/// @title Tutela crossing ledger
/// @notice Crossing requests of the children in `registry`, their guardians' decisions, the
/// child-protection officers' co-approvals and court-ordered overrides, and the outcomes.
/// @dev One storage slot per request. The family rule compares the first 6 bytes of the
/// companion's commitment with the first 6 bytes of the deciding guardian's document commitment
/// (see `_decide`). Decision marks are written only when a decision leaves a request pending:
/// a final decision changes the status, which already refuses any later decision or replay.
contract CrossingLedger is ICrossingLedger, AccessControlDefaultAdminRules, EIP712 {
    /// @inheritdoc ICrossingLedger
    bytes32 public constant BORDER_OFFICER_ROLE = keccak256("BORDER_OFFICER_ROLE");

    /// @inheritdoc ICrossingLedger
    bytes32 public constant CHILD_PROTECTION_ROLE = keccak256("CHILD_PROTECTION_ROLE");

    /// @inheritdoc ICrossingLedger
    bytes32 public constant DECISION_TYPEHASH =
        keccak256("Decision(uint64 requestId,address guardian,bool approve,uint256 deadline)");

    /// @inheritdoc ICrossingLedger
    uint40 public constant MAX_REQUEST_LIFETIME = 7 days;

    /// @inheritdoc ICrossingLedger
    IChildRegistry public immutable registry;

    /// @dev `Request.flags` bits.
    uint8 private constant _FLAG_ENTRY = 1 << 0;
    uint8 private constant _FLAG_GUARDIAN_APPROVED = 1 << 1;
    uint8 private constant _FLAG_PROTECTION_DECIDED = 1 << 2;
    uint8 private constant _FLAG_FAMILY_RULE_APPLIED = 1 << 3;
    /// @dev Set when the companion commitment is zero: the child travels alone. A flag rather
    /// than a zero tag, so that a real commitment whose first bytes are zero is still compared.
    uint8 private constant _FLAG_ALONE = 1 << 4;

    /// @dev 16 + 6 + 2 + 5 + 1 + 1 + 1 = 32 bytes: one slot, so a request costs one fresh slot
    /// and every later change rewrites a slot already paid for. The full companion commitment is
    /// only emitted in `CrossingRequested`; the tag is what the family rule needs. The direction
    /// lives in `_FLAG_ENTRY`. `rulesRevision` is the child's `ChildRecord.revision` when the
    /// request was opened: decisions are only taken under the guardians and policy it was opened
    /// with.
    struct Request {
        bytes16 childId;
        bytes6 companionTag;
        uint16 rulesRevision;
        uint40 expiresAt;
        RequestStatus status;
        uint8 approvals;
        uint8 flags;
    }

    mapping(uint64 requestId => Request) private _requests;

    /// @dev Guardians whose decision left a request pending (see the contract's @dev).
    mapping(uint64 requestId => mapping(address guardian => bool)) private _decided;

    /// @dev Starts at 1 so that 0 is never a request, and so that the first request pays for a
    /// nonzero-to-nonzero write rather than a fresh slot.
    uint64 private _nextRequestId = 1;

    /// @param initialDelay Delay before a default-admin transfer can be accepted (two-step rules).
    /// @param initialAdmin The first default admin, who grants the officers' roles.
    /// @param childRegistry The registry whose children and guardians this ledger serves.
    constructor(uint48 initialDelay, address initialAdmin, IChildRegistry childRegistry)
        AccessControlDefaultAdminRules(initialDelay, initialAdmin)
        EIP712("Tutela CrossingLedger", "1")
    {
        registry = childRegistry;
    }

    /// @inheritdoc ICrossingLedger
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    /// @inheritdoc ICrossingLedger
    function requestCrossing(
        bytes16 childId,
        Direction direction,
        bytes16 borderPoint,
        bytes32 companionCommitment,
        uint40 expiresAt
    ) external onlyRole(BORDER_OFFICER_ROLE) returns (uint64 requestId) {
        IChildRegistry.ChildRecord memory record = registry.childRecord(childId);
        _requireActiveChild(childId, record.status);
        uint40 currentTime = _now();
        if (expiresAt <= currentTime || expiresAt > currentTime + MAX_REQUEST_LIFETIME) {
            revert CrossingLedgerInvalidExpiry(expiresAt, currentTime);
        }
        requestId = _nextRequestId++;
        // Written member by member through a storage pointer: measured cheaper than assigning a
        // struct literal, which the compiler turns into more read-modify-writes of the slot.
        Request storage request = _requests[requestId];
        request.childId = childId;
        request.companionTag = bytes6(companionCommitment);
        request.rulesRevision = record.revision;
        request.expiresAt = expiresAt;
        uint8 flags = companionCommitment == bytes32(0) ? _FLAG_ALONE : 0;
        if (direction == Direction.Entry) {
            // An entry into the country needs no guardian: it starts approved and only awaits
            // its outcome.
            request.status = RequestStatus.Approved;
            flags |= _FLAG_ENTRY;
        } else {
            request.status = RequestStatus.Pending;
        }
        if (flags != 0) request.flags = flags;
        emit CrossingRequested(
            requestId, childId, companionCommitment, direction, borderPoint, expiresAt, msg.sender
        );
    }

    /// @inheritdoc ICrossingLedger
    function decide(uint64 requestId, bool approve) external {
        _decide(requestId, msg.sender, approve);
    }

    /// @inheritdoc ICrossingLedger
    /// @dev No nonce is needed: the signed struct names the request, and a guardian decides a
    /// request once (a decision is either final or marked in `_decided`), so a replay reverts.
    function decideBySig(uint64 requestId, address guardian, bool approve, uint256 deadline, bytes calldata signature)
        external
    {
        // The deadline first: an expired signature is refused whatever else it says.
        uint256 currentTime = _now();
        if (currentTime > deadline) revert CrossingLedgerSignatureExpired(deadline, currentTime);
        bytes32 digest = _decisionDigest(requestId, guardian, approve, deadline);
        if (!_isValidSignatureNow(guardian, digest, signature)) {
            revert CrossingLedgerInvalidSignature(requestId, guardian);
        }
        _decide(requestId, guardian, approve);
    }

    /// @inheritdoc ICrossingLedger
    function protectionDecide(uint64 requestId, bool approve) external onlyRole(CHILD_PROTECTION_ROLE) {
        Request storage request = _openExitRequest(requestId);
        bytes16 childId = request.childId;
        IChildRegistry.ChildRecord memory record = registry.childRecord(childId);
        _requireActiveChild(childId, record.status);
        _requireSameRules(requestId, request, record);
        // Once per request, whichever officer: the role is one institution's co-approval.
        uint8 flags = request.flags;
        if (flags & _FLAG_PROTECTION_DECIDED != 0) revert CrossingLedgerAlreadyDecided(requestId, msg.sender);
        flags |= _FLAG_PROTECTION_DECIDED;
        request.flags = flags;
        RequestStatus status = RequestStatus.Denied;
        if (approve) {
            uint8 approvals = request.approvals + 1;
            request.approvals = approvals;
            status = _isApproved(approvals, flags, record) ? RequestStatus.Approved : RequestStatus.Pending;
        }
        if (status != RequestStatus.Pending) request.status = status;
        emit ProtectionDecided(requestId, msg.sender, approve, status);
    }

    /// @inheritdoc ICrossingLedger
    function overrideByCourtOrder(uint64 requestId, bytes32 courtOrderHash)
        external
        onlyRole(CHILD_PROTECTION_ROLE)
    {
        Request storage request = _requests[requestId];
        RequestStatus status = request.status;
        _requireExit(requestId, status, request.flags);
        // A court may lift a denial as well as stand in for absent guardians, but cannot reopen
        // a closed or already approved request.
        if (status != RequestStatus.Pending && status != RequestStatus.Denied) {
            revert CrossingLedgerRequestNotPending(requestId, status);
        }
        _requireNotExpired(requestId, request.expiresAt);
        bytes16 childId = request.childId;
        _requireActiveChild(childId, registry.childRecord(childId).status);
        if (courtOrderHash == bytes32(0)) revert CrossingLedgerInvalidCourtOrder(requestId);
        request.status = RequestStatus.Overridden;
        emit CrossingOverridden(requestId, msg.sender, courtOrderHash);
    }

    /// @inheritdoc ICrossingLedger
    function recordOutcome(uint64 requestId, Outcome outcome) external onlyRole(BORDER_OFFICER_ROLE) {
        Request storage request = _requests[requestId];
        RequestStatus status = request.status;
        if (status == RequestStatus.None) revert CrossingLedgerUnknownRequest(requestId);
        if (status == RequestStatus.Crossed || status == RequestStatus.TurnedBack) {
            revert CrossingLedgerRequestClosed(requestId, status);
        }
        bytes16 childId = request.childId;
        if (outcome == Outcome.Crossed) {
            if (status != RequestStatus.Approved && status != RequestStatus.Overridden) {
                revert CrossingLedgerNotApproved(requestId, status);
            }
            _requireNotExpired(requestId, request.expiresAt);
            // A record revoked or superseded after the approval no longer vouches for the child.
            _requireActiveChild(childId, registry.childRecord(childId).status);
            request.status = RequestStatus.Crossed;
        } else {
            // Turning a child back is always allowed: it is the safe outcome.
            request.status = RequestStatus.TurnedBack;
        }
        emit CrossingRecorded(requestId, childId, outcome, msg.sender);
    }

    /// @inheritdoc ICrossingLedger
    function getRequest(uint64 requestId) external view returns (RequestView memory) {
        Request memory request = _requests[requestId];
        RequestStatus status = request.status;
        if (status == RequestStatus.None) revert CrossingLedgerUnknownRequest(requestId);
        // `Expired` is derived, never stored: no transaction is needed when time runs out.
        if ((status == RequestStatus.Pending || status == RequestStatus.Approved) && _now() > request.expiresAt) {
            status = RequestStatus.Expired;
        }
        uint8 flags = request.flags;
        return RequestView({
            childId: request.childId,
            direction: flags & _FLAG_ENTRY != 0 ? Direction.Entry : Direction.Exit,
            status: status,
            expiresAt: request.expiresAt,
            approvals: request.approvals,
            guardianApproved: flags & _FLAG_GUARDIAN_APPROVED != 0,
            protectionDecided: flags & _FLAG_PROTECTION_DECIDED != 0,
            familyRuleApplied: flags & _FLAG_FAMILY_RULE_APPLIED != 0
        });
    }

    /// @inheritdoc ICrossingLedger
    function nextRequestId() external view returns (uint64) {
        return _nextRequestId;
    }

    /// @inheritdoc ICrossingLedger
    function decisionDigest(uint64 requestId, address guardian, bool approve, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _decisionDigest(requestId, guardian, approve, deadline);
    }

    /// @dev The one source of time, so that a test harness can move it.
    function _now() internal view virtual returns (uint40) {
        return uint40(block.timestamp);
    }

    /// @dev The logic shared by `decide` and `decideBySig`, once the guardian is authenticated.
    function _decide(uint64 requestId, address guardian, bool approve) private {
        Request storage request = _openExitRequest(requestId);
        bytes16 childId = request.childId;
        // One call for the record and the guardian's document: a cold registry is paid once.
        (IChildRegistry.ChildRecord memory record, bytes32 documentCommitment) =
            registry.decisionContext(childId, guardian);
        _requireActiveChild(childId, record.status);
        _requireSameRules(requestId, request, record);
        if (documentCommitment == bytes32(0)) revert CrossingLedgerNotGuardian(requestId, guardian);
        uint8 flags = request.flags;
        // A mark is only ever written after an approval that left the request pending, and every
        // approval sets _FLAG_GUARDIAN_APPROVED: without that flag no guardian can have a mark, so
        // the first decision on a request skips a cold read.
        if (flags & _FLAG_GUARDIAN_APPROVED != 0 && _decided[requestId][guardian]) {
            revert CrossingLedgerAlreadyDecided(requestId, guardian);
        }

        // Any guardian's denial is final, the companion's included: refusing is always safe.
        RequestStatus status = RequestStatus.Denied;
        bool counted = true;
        if (approve) {
            // The family rule: a guardian travelling with the child cannot approve alone. The
            // tags are the first 6 bytes of two keyed hashes. Equal commitments always give equal
            // tags, so a companion guardian is always caught; unequal commitments collide with
            // probability 2^-48, and a false match only sets an approval aside (another guardian
            // or a child-protection officer must then approve), so it errs on the safe side. A
            // child travelling alone has no companion to match.
            counted = flags & _FLAG_ALONE != 0 || request.companionTag != bytes6(documentCommitment);
            uint8 approvals = request.approvals;
            if (counted) {
                ++approvals;
                request.approvals = approvals;
            } else {
                flags |= _FLAG_FAMILY_RULE_APPLIED;
            }
            flags |= _FLAG_GUARDIAN_APPROVED;
            request.flags = flags;
            status = _isApproved(approvals, flags, record) ? RequestStatus.Approved : RequestStatus.Pending;
        }
        if (status == RequestStatus.Pending) {
            // Only a decision that leaves the request pending needs a mark; a final one changes
            // the status, which refuses any further decision (and saves a fresh slot on the
            // common path).
            _decided[requestId][guardian] = true;
        } else {
            request.status = status;
        }
        emit GuardianDecided(requestId, guardian, approve, counted, status);
    }

    /// @dev A change of guardians or policy since the request was opened voids its pending
    /// decisions: counting old approvals against new guardians would let a replaced or removed
    /// guardian stand in for a current one. The officer asks again under the new rules.
    function _requireSameRules(uint64 requestId, Request storage request, IChildRegistry.ChildRecord memory record)
        private
        view
    {
        if (record.revision != request.rulesRevision) revert CrossingLedgerRulesChanged(requestId);
    }

    /// @dev Whether a request with `approvals` and `flags` has what its child's policy asks for.
    /// At least one guardian must have approved: a child-protection officer co-approves, never
    /// replaces the guardians.
    function _isApproved(uint8 approvals, uint8 flags, IChildRegistry.ChildRecord memory record)
        private
        pure
        returns (bool)
    {
        if (flags & _FLAG_GUARDIAN_APPROVED == 0) return false;
        uint256 required;
        if (record.policyKind == IChildRegistry.PolicyKind.Any) {
            required = 1;
        } else if (record.policyKind == IChildRegistry.PolicyKind.All) {
            // The current guardians, so a guardian added while a request is pending must approve.
            required = record.guardianCount;
        } else {
            required = record.threshold;
        }
        return approvals >= required;
    }

    /// @dev A request that can still be decided: known, an exit, pending and not expired, in this
    /// order of checks.
    function _openExitRequest(uint64 requestId) private view returns (Request storage request) {
        request = _requests[requestId];
        RequestStatus status = request.status;
        _requireExit(requestId, status, request.flags);
        if (status != RequestStatus.Pending) revert CrossingLedgerRequestNotPending(requestId, status);
        _requireNotExpired(requestId, request.expiresAt);
    }

    /// @dev Reverts for an unknown request and for an entry, which needs no decision.
    function _requireExit(uint64 requestId, RequestStatus status, uint8 flags) private pure {
        if (status == RequestStatus.None) revert CrossingLedgerUnknownRequest(requestId);
        if (flags & _FLAG_ENTRY != 0) revert CrossingLedgerNoApprovalNeeded(requestId);
    }

    /// @dev A request is usable up to and including its `expiresAt` second.
    function _requireNotExpired(uint64 requestId, uint40 expiresAt) private view {
        if (_now() > expiresAt) revert CrossingLedgerRequestExpired(requestId, expiresAt);
    }

    function _requireActiveChild(bytes16 childId, IChildRegistry.ChildStatus status) private pure {
        if (status != IChildRegistry.ChildStatus.Active) revert CrossingLedgerChildNotActive(childId, status);
    }

    function _decisionDigest(uint64 requestId, address guardian, bool approve, uint256 deadline)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(DECISION_TYPEHASH, requestId, guardian, approve, deadline)));
    }

    /// @dev What OpenZeppelin's `SignatureChecker.isValidSignatureNow` checks, restated here
    /// because that library (5.4.0) imports `Bytes`, whose `mcopy` does not compile for the
    /// `paris` EVM that Besu and GoQuorum run. An ECDSA signature is tried first, through
    /// `ECDSA.tryRecover`, which refuses high-s (malleable) signatures; ERC-1271 is asked only
    /// when that fails and the signer has code. Trying ECDSA first spares the common case, a
    /// guardian's own key, a cold EXTCODESIZE (2,600 gas), and is as strict: a recovered address
    /// equal to the signer proves the signer's key signed, and no key is known for a contract's
    /// address.
    function _isValidSignatureNow(address signer, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        // A 65-byte r || s || v signature, read straight from calldata (what
        // `ECDSA.tryRecover(bytes32, bytes)` does after copying it to memory).
        if (signature.length == 65) {
            (address recovered, ECDSA.RecoverError recoverError,) = ECDSA.tryRecover(
                digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64])
            );
            if (recoverError == ECDSA.RecoverError.NoError && recovered == signer) return true;
        }
        if (signer.code.length == 0) return false;
        (bool success, bytes memory result) =
            signer.staticcall(abi.encodeCall(IERC1271.isValidSignature, (digest, signature)));
        return success && result.length >= 32
            && abi.decode(result, (bytes32)) == bytes32(IERC1271.isValidSignature.selector);
    }
}
