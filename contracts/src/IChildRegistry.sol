// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Tutela child registry
/// @notice Holds, for each child, an opaque identifier, a status, the guardians' accounts and
/// the approval policy for the child's crossings. Personal data never reaches this contract:
/// the child's commitment and the guardians' document commitments are keyed hashes made
/// off-chain with a secret held by the registry, and they appear only in events.
interface IChildRegistry {
    /// @dev `None` is the zero value: a child id that was never registered.
    enum ChildStatus {
        None,
        Active,
        Revoked,
        Superseded
    }

    /// @dev `Any`: one guardian's approval; `All`: every current guardian; `KOfN`: `threshold`
    /// guardians. A child-protection officer's co-approval counts as one approval.
    enum PolicyKind {
        Any,
        All,
        KOfN
    }

    struct Policy {
        PolicyKind kind;
        /// @dev Only read for `KOfN`; stored as 0 for the other kinds.
        uint8 threshold;
    }

    struct GuardianInput {
        address account;
        /// @dev Keyed hash of the guardian's identity document; compared with a crossing's
        /// companion commitment to apply the family rule.
        bytes32 documentCommitment;
    }

    struct ChildInput {
        bytes16 childId;
        bytes32 commitment;
        GuardianInput[] guardians;
        Policy policy;
    }

    /// @dev Fits one storage slot.
    struct ChildRecord {
        ChildStatus status;
        PolicyKind policyKind;
        uint8 threshold;
        uint8 guardianCount;
        uint40 registeredAt;
        /// @dev Counts changes of guardians or policy (wrapping at 2^16); a crossing request is
        /// decided only under the revision it was opened with.
        uint16 revision;
    }

    event ChildRegistered(bytes16 indexed childId, bytes32 commitment, PolicyKind policyKind, uint8 threshold);
    event GuardianAdded(bytes16 indexed childId, address indexed guardian, bytes32 documentCommitment);
    event GuardianRemoved(bytes16 indexed childId, address indexed guardian);
    event PolicyChanged(bytes16 indexed childId, PolicyKind policyKind, uint8 threshold);
    event ChildRevoked(bytes16 indexed childId, uint16 reasonCode);
    event ChildSuperseded(bytes16 indexed childId, bytes16 indexed successorId);

    error ChildRegistryInvalidChildId(bytes16 childId);
    error ChildRegistryInvalidCommitment(bytes16 childId);
    error ChildRegistryAlreadyRegistered(bytes16 childId);
    error ChildRegistryUnknownChild(bytes16 childId);
    error ChildRegistryChildNotActive(bytes16 childId, ChildStatus status);
    error ChildRegistryInvalidGuardian(bytes16 childId, address guardian);
    error ChildRegistryDuplicateGuardian(bytes16 childId, address guardian);
    error ChildRegistryNotGuardian(bytes16 childId, address guardian);
    error ChildRegistryTooManyGuardians(bytes16 childId, uint256 count);
    error ChildRegistryInvalidPolicy(bytes16 childId, PolicyKind kind, uint8 threshold, uint256 guardianCount);

    /// @notice The role of registry officials: register, correct and revoke children.
    function REGISTRAR_ROLE() external view returns (bytes32);

    /// @notice The most guardians one child may have at a time.
    function MAX_GUARDIANS() external view returns (uint8);

    /// @notice Version of this contract's interface and storage layout.
    function version() external pure returns (string memory);

    /// @notice Registers a child with its guardians and approval policy.
    /// @dev Reverts unless the caller has REGISTRAR_ROLE; when the id or commitment is zero, the
    /// id is taken, a guardian is invalid or repeated, there are no or too many guardians, or
    /// the policy cannot be met by the guardians given.
    /// @param childId Opaque, randomly drawn identifier; never derived from personal data.
    /// @param commitment Keyed hash of the child's canonical personal data.
    /// @param guardians The guardians' accounts and document commitments.
    /// @param policy How many guardian approvals a crossing needs.
    function registerChild(
        bytes16 childId,
        bytes32 commitment,
        GuardianInput[] calldata guardians,
        Policy calldata policy
    ) external;

    /// @notice Registers many children in one transaction, with the same checks as `registerChild`.
    /// @param children The children to register; the whole batch reverts when one is invalid.
    function registerChildren(ChildInput[] calldata children) external;

    /// @notice Adds a guardian to an active child.
    /// @param childId The child.
    /// @param guardian The new guardian's account and document commitment.
    function addGuardian(bytes16 childId, GuardianInput calldata guardian) external;

    /// @notice Removes a guardian from an active child; the policy must stay satisfiable.
    /// @param childId The child.
    /// @param guardian The account to remove.
    function removeGuardian(bytes16 childId, address guardian) external;

    /// @notice Moves a guardian to a new account (lost key), keeping the document commitment.
    /// @param childId The child.
    /// @param oldAccount The guardian's current account.
    /// @param newAccount The account that replaces it.
    function replaceGuardianAccount(bytes16 childId, address oldAccount, address newAccount) external;

    /// @notice Changes the approval policy of an active child.
    /// @param childId The child.
    /// @param policy The new policy; must be satisfiable by the current guardians.
    function setPolicy(bytes16 childId, Policy calldata policy) external;

    /// @notice Revokes an active child's record; its crossings can no longer be requested or recorded.
    /// @param childId The child.
    /// @param reasonCode A code from the registry's published list; free text stays off-chain.
    function revokeChild(bytes16 childId, uint16 reasonCode) external;

    /// @notice Replaces an active record by a corrected one under a new id.
    /// @dev The old record becomes `Superseded`; the successor is registered as by `registerChild`.
    /// @param childId The record being corrected.
    /// @param successorId The corrected record's new opaque id.
    /// @param commitment The corrected commitment.
    /// @param guardians The corrected record's guardians.
    /// @param policy The corrected record's policy.
    function supersedeChild(
        bytes16 childId,
        bytes16 successorId,
        bytes32 commitment,
        GuardianInput[] calldata guardians,
        Policy calldata policy
    ) external;

    /// @notice The stored record of a child; `status` is `None` for an unknown id.
    /// @param childId The child.
    function childRecord(bytes16 childId) external view returns (ChildRecord memory);

    /// @notice The document commitment of `account` as a guardian of `childId`, zero when it is none.
    /// @param childId The child.
    /// @param account The account asked about.
    function guardianDocument(bytes16 childId, address account) external view returns (bytes32);

    /// @notice Everything a crossing decision needs in one call: the child's record and
    /// `account`'s document commitment as its guardian (zero when it is none).
    /// @param childId The child.
    /// @param account The account that decides.
    function decisionContext(bytes16 childId, address account)
        external
        view
        returns (ChildRecord memory record, bytes32 documentCommitment);
}
