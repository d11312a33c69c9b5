// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";

import {IChildRegistry} from "./IChildRegistry.sol";

/// @title Tutela child registry
/// @notice Registry officials enrol children with their guardians and approval policy; the
/// crossing ledger reads a child's status, policy and guardians from here.
/// @dev Storage is kept to what the crossing ledger must read on chain: one slot per child and
/// one slot per guardian. The child's commitment is only emitted in `ChildRegistered`: nothing on
/// chain reads it, the event log keeps it for auditors, and not storing it saves a fresh slot
/// (~22k gas) per registration. Personal data never reaches this contract.
contract ChildRegistry is IChildRegistry, AccessControlDefaultAdminRules {
    /// @inheritdoc IChildRegistry
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @inheritdoc IChildRegistry
    /// @dev Bounds the cost of a registration and keeps `guardianCount` well inside a uint8.
    uint8 public constant MAX_GUARDIANS = 16;

    /// @dev One slot per child: status, policy, threshold, guardian count, registration time.
    mapping(bytes16 childId => ChildRecord) private _children;

    /// @dev A guardian's document commitment per child; nonzero exactly when the account is a
    /// current guardian, so membership and the family-rule input cost one read.
    mapping(bytes16 childId => mapping(address account => bytes32)) private _documentCommitments;

    /// @param initialDelay Delay before a default-admin transfer can be accepted (two-step rules).
    /// @param initialAdmin The first default admin, who grants REGISTRAR_ROLE.
    constructor(uint48 initialDelay, address initialAdmin)
        AccessControlDefaultAdminRules(initialDelay, initialAdmin)
    {}

    /// @inheritdoc IChildRegistry
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    /// @inheritdoc IChildRegistry
    function registerChild(
        bytes16 childId,
        bytes32 commitment,
        GuardianInput[] calldata guardians,
        Policy calldata policy
    ) external onlyRole(REGISTRAR_ROLE) {
        _register(childId, commitment, guardians, policy);
    }

    /// @inheritdoc IChildRegistry
    function registerChildren(ChildInput[] calldata children) external onlyRole(REGISTRAR_ROLE) {
        uint256 length = children.length;
        for (uint256 i = 0; i < length; ++i) {
            ChildInput calldata child = children[i];
            _register(child.childId, child.commitment, child.guardians, child.policy);
        }
    }

    /// @inheritdoc IChildRegistry
    function addGuardian(bytes16 childId, GuardianInput calldata guardian) external onlyRole(REGISTRAR_ROLE) {
        ChildRecord storage record = _activeRecord(childId);
        uint256 newCount = uint256(record.guardianCount) + 1;
        if (newCount > MAX_GUARDIANS) revert ChildRegistryTooManyGuardians(childId, newCount);
        // Adding a guardian never makes a satisfiable policy unsatisfiable: `All` grows with the
        // guardians and a `KOfN` threshold stays below the count.
        record.guardianCount = uint8(newCount);
        _revise(record);
        _addGuardian(childId, guardian.account, guardian.documentCommitment);
    }

    /// @inheritdoc IChildRegistry
    function removeGuardian(bytes16 childId, address guardian) external onlyRole(REGISTRAR_ROLE) {
        ChildRecord storage record = _activeRecord(childId);
        if (_documentCommitments[childId][guardian] == bytes32(0)) {
            revert ChildRegistryNotGuardian(childId, guardian);
        }
        uint8 newCount = record.guardianCount - 1;
        // A child keeps at least one guardian, and a KOfN threshold must stay reachable: otherwise
        // no exit could be approved without a court order.
        PolicyKind kind = record.policyKind;
        uint8 threshold = record.threshold;
        if (newCount == 0 || (kind == PolicyKind.KOfN && threshold > newCount)) {
            revert ChildRegistryInvalidPolicy(childId, kind, threshold, newCount);
        }
        record.guardianCount = newCount;
        _revise(record);
        delete _documentCommitments[childId][guardian];
        emit GuardianRemoved(childId, guardian);
    }

    /// @inheritdoc IChildRegistry
    function replaceGuardianAccount(bytes16 childId, address oldAccount, address newAccount)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        ChildRecord storage record = _activeRecord(childId);
        bytes32 documentCommitment = _documentCommitments[childId][oldAccount];
        if (documentCommitment == bytes32(0)) revert ChildRegistryNotGuardian(childId, oldAccount);
        // Replacing an account by itself would pass `_addGuardian` once the old entry is gone
        // and emit a removal and an addition for nothing.
        if (newAccount == oldAccount) revert ChildRegistryDuplicateGuardian(childId, newAccount);
        // Removed first, so that the events read in the order the state changed; `_addGuardian`
        // then refuses a zero account and one that is already a guardian of this child.
        _revise(record);
        delete _documentCommitments[childId][oldAccount];
        emit GuardianRemoved(childId, oldAccount);
        _addGuardian(childId, newAccount, documentCommitment);
    }

    /// @inheritdoc IChildRegistry
    function setPolicy(bytes16 childId, Policy calldata policy) external onlyRole(REGISTRAR_ROLE) {
        ChildRecord storage record = _activeRecord(childId);
        uint8 threshold = _checkedThreshold(childId, policy, record.guardianCount);
        record.policyKind = policy.kind;
        record.threshold = threshold;
        _revise(record);
        emit PolicyChanged(childId, policy.kind, threshold);
    }

    /// @inheritdoc IChildRegistry
    function revokeChild(bytes16 childId, uint16 reasonCode) external onlyRole(REGISTRAR_ROLE) {
        ChildRecord storage record = _activeRecord(childId);
        record.status = ChildStatus.Revoked;
        emit ChildRevoked(childId, reasonCode);
    }

    /// @inheritdoc IChildRegistry
    function supersedeChild(
        bytes16 childId,
        bytes16 successorId,
        bytes32 commitment,
        GuardianInput[] calldata guardians,
        Policy calldata policy
    ) external onlyRole(REGISTRAR_ROLE) {
        ChildRecord storage record = _activeRecord(childId);
        // The old record is closed before the successor is checked, so `successorId == childId`
        // fails as already registered rather than resurrecting the record.
        record.status = ChildStatus.Superseded;
        emit ChildSuperseded(childId, successorId);
        _register(successorId, commitment, guardians, policy);
    }

    /// @inheritdoc IChildRegistry
    function childRecord(bytes16 childId) external view returns (ChildRecord memory) {
        return _children[childId];
    }

    /// @inheritdoc IChildRegistry
    function guardianDocument(bytes16 childId, address account) external view returns (bytes32) {
        return _documentCommitments[childId][account];
    }

    /// @inheritdoc IChildRegistry
    function decisionContext(bytes16 childId, address account)
        external
        view
        returns (ChildRecord memory record, bytes32 documentCommitment)
    {
        return (_children[childId], _documentCommitments[childId][account]);
    }

    /// @dev The one source of time, so that a test harness can move it.
    function _now() internal view virtual returns (uint40) {
        return uint40(block.timestamp);
    }

    /// @dev The single registration path, shared by `registerChild`, `registerChildren` and
    /// `supersedeChild`, so the three cannot drift apart in what they check.
    function _register(
        bytes16 childId,
        bytes32 commitment,
        GuardianInput[] calldata guardians,
        Policy calldata policy
    ) private {
        if (childId == bytes16(0)) revert ChildRegistryInvalidChildId(childId);
        if (commitment == bytes32(0)) revert ChildRegistryInvalidCommitment(childId);
        ChildRecord storage record = _children[childId];
        // Any status but None means the id was used: ids are never reused, even after a
        // revocation or a correction, so that history stays unambiguous.
        if (record.status != ChildStatus.None) revert ChildRegistryAlreadyRegistered(childId);
        uint256 count = guardians.length;
        if (count > MAX_GUARDIANS) revert ChildRegistryTooManyGuardians(childId, count);
        // With no guardian no policy can ever be met; reported as an invalid policy, as
        // `removeGuardian` does for the last guardian. `count <= 16` fits the uint8.
        uint8 threshold = _checkedThreshold(childId, policy, uint8(count));

        // Member by member through the storage pointer: measured cheaper than assigning a struct
        // literal, which the compiler turns into more read-modify-writes of the slot.
        record.status = ChildStatus.Active;
        record.policyKind = policy.kind;
        record.threshold = threshold;
        record.guardianCount = uint8(count);
        record.registeredAt = _now();
        emit ChildRegistered(childId, commitment, policy.kind, threshold);

        for (uint256 i = 0; i < count; ++i) {
            GuardianInput calldata guardian = guardians[i];
            _addGuardian(childId, guardian.account, guardian.documentCommitment);
        }
    }

    /// @dev Records one guardian; the caller keeps `guardianCount` in step.
    function _addGuardian(bytes16 childId, address account, bytes32 documentCommitment) private {
        // A zero document would read as "not a guardian" and a zero account cannot sign.
        if (account == address(0) || documentCommitment == bytes32(0)) {
            revert ChildRegistryInvalidGuardian(childId, account);
        }
        mapping(address => bytes32) storage documents = _documentCommitments[childId];
        if (documents[account] != bytes32(0)) revert ChildRegistryDuplicateGuardian(childId, account);
        documents[account] = documentCommitment;
        emit GuardianAdded(childId, account, documentCommitment);
    }

    /// @dev The stored threshold of `policy` for `guardianCount` guardians: 0 for `Any` and `All`
    /// (their requirement follows from the kind), the threshold itself for a reachable `KOfN`.
    function _checkedThreshold(bytes16 childId, Policy calldata policy, uint8 guardianCount)
        private
        pure
        returns (uint8)
    {
        PolicyKind kind = policy.kind;
        uint8 threshold = policy.threshold;
        if (guardianCount == 0 || (kind == PolicyKind.KOfN && (threshold == 0 || threshold > guardianCount))) {
            revert ChildRegistryInvalidPolicy(childId, kind, threshold, guardianCount);
        }
        return kind == PolicyKind.KOfN ? threshold : 0;
    }

    /// @dev Pending crossing requests of the child stop taking decisions (see CrossingLedger).
    /// Wrapping is harmless: 65,536 changes between a request and its decision cannot happen
    /// within a request's lifetime.
    function _revise(ChildRecord storage record) private {
        unchecked {
            record.revision += 1;
        }
    }

    /// @dev The record of an active child, for the mutations that only an active record allows.
    function _activeRecord(bytes16 childId) private view returns (ChildRecord storage record) {
        record = _children[childId];
        ChildStatus status = record.status;
        if (status != ChildStatus.Active) {
            if (status == ChildStatus.None) revert ChildRegistryUnknownChild(childId);
            revert ChildRegistryChildNotActive(childId, status);
        }
    }
}
