// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IChildRegistry} from "./IChildRegistry.sol";

/// @title Tutela crossing ledger
/// @notice Border officers request a child's crossing, guardians approve or deny (directly or
/// by an EIP-712 signature anyone may relay), child-protection officers co-approve or override
/// with a court order, and officers record the outcome.
/// @dev The family rule: a guardian whose document commitment equals the crossing's companion
/// commitment is travelling with the child, so that guardian's approval does not count; another
/// guardian or a child-protection officer must approve (the ledger compares 6-byte tags of the
/// two commitments: a false match, 2^-48, only sets an approval aside). A request is approved
/// once the counted approvals reach the child's policy and at least one guardian approved; a
/// child-protection co-approval counts as one approval, so under `All` it can stand in for one
/// guardian. Any denial is final, short of a court-ordered override.
interface ICrossingLedger {
    enum Direction {
        Exit,
        Entry
    }

    /// @dev `Expired` is never stored: views report it for a pending or approved request past
    /// its expiry.
    enum RequestStatus {
        None,
        Pending,
        Approved,
        Denied,
        Overridden,
        Crossed,
        TurnedBack,
        Expired
    }

    enum Outcome {
        Crossed,
        TurnedBack
    }

    struct RequestView {
        bytes16 childId;
        Direction direction;
        RequestStatus status;
        uint40 expiresAt;
        uint8 approvals;
        bool guardianApproved;
        bool protectionDecided;
        bool familyRuleApplied;
    }

    event CrossingRequested(
        uint64 indexed requestId,
        bytes16 indexed childId,
        bytes32 indexed companionCommitment,
        Direction direction,
        bytes16 borderPoint,
        uint40 expiresAt,
        address officer
    );
    /// @param counted False when the family rule set this approval aside.
    /// @param status The request's status after this decision.
    event GuardianDecided(
        uint64 indexed requestId, address indexed guardian, bool approved, bool counted, RequestStatus status
    );
    event ProtectionDecided(uint64 indexed requestId, address indexed officer, bool approved, RequestStatus status);
    event CrossingOverridden(uint64 indexed requestId, address indexed officer, bytes32 courtOrderHash);
    event CrossingRecorded(uint64 indexed requestId, bytes16 indexed childId, Outcome outcome, address officer);

    error CrossingLedgerChildNotActive(bytes16 childId, IChildRegistry.ChildStatus status);
    error CrossingLedgerInvalidExpiry(uint40 expiresAt, uint40 currentTime);
    error CrossingLedgerUnknownRequest(uint64 requestId);
    error CrossingLedgerRequestExpired(uint64 requestId, uint40 expiresAt);
    error CrossingLedgerRequestNotPending(uint64 requestId, RequestStatus status);
    error CrossingLedgerNoApprovalNeeded(uint64 requestId);
    error CrossingLedgerNotGuardian(uint64 requestId, address account);
    error CrossingLedgerAlreadyDecided(uint64 requestId, address account);
    error CrossingLedgerSignatureExpired(uint256 deadline, uint256 currentTime);
    error CrossingLedgerInvalidSignature(uint64 requestId, address guardian);
    error CrossingLedgerInvalidCourtOrder(uint64 requestId);
    error CrossingLedgerNotApproved(uint64 requestId, RequestStatus status);
    error CrossingLedgerRequestClosed(uint64 requestId, RequestStatus status);
    /// @dev The child's guardians or policy changed after the request was opened.
    error CrossingLedgerRulesChanged(uint64 requestId);

    /// @notice The role of border officers: request crossings and record their outcomes.
    function BORDER_OFFICER_ROLE() external view returns (bytes32);

    /// @notice The role of child-protection officers: co-approve, deny, override by court order.
    function CHILD_PROTECTION_ROLE() external view returns (bytes32);

    /// @notice The EIP-712 type hash of `Decision(uint64 requestId,address guardian,bool approve,uint256 deadline)`.
    function DECISION_TYPEHASH() external view returns (bytes32);

    /// @notice The longest a request may stay open, in seconds.
    function MAX_REQUEST_LIFETIME() external view returns (uint40);

    /// @notice Version of this contract's interface and storage layout.
    function version() external pure returns (string memory);

    /// @notice The registry whose children this ledger serves.
    function registry() external view returns (IChildRegistry);

    /// @notice Opens a crossing request for an active child.
    /// @dev Exit requests start `Pending` and need the guardians; entry requests start `Approved`.
    /// @param childId The child.
    /// @param direction Exit from or entry into the country.
    /// @param borderPoint The border point's code (ASCII, right-padded with zeros).
    /// @param companionCommitment Keyed hash of the travelling companion's document; zero when
    /// the child travels alone.
    /// @param expiresAt When the request lapses; after now and within `MAX_REQUEST_LIFETIME`.
    /// @return requestId The new request's number, counting from 1.
    function requestCrossing(
        bytes16 childId,
        Direction direction,
        bytes16 borderPoint,
        bytes32 companionCommitment,
        uint40 expiresAt
    ) external returns (uint64 requestId);

    /// @notice The caller, a guardian of the request's child, approves or denies it.
    /// @param requestId The request.
    /// @param approve True to approve, false to deny.
    function decide(uint64 requestId, bool approve) external;

    /// @notice Relays a guardian's EIP-712 signed decision; anyone may call it.
    /// @dev The signature covers the request, the guardian, the decision and the deadline, under
    /// this contract's domain (name, version, chain id, address). High-s signatures are refused.
    /// @param requestId The request.
    /// @param guardian The guardian who signed.
    /// @param approve The signed decision.
    /// @param deadline The last second at which the signature is valid.
    /// @param signature The guardian's signature (65 bytes, or an ERC-1271 contract signature).
    function decideBySig(uint64 requestId, address guardian, bool approve, uint256 deadline, bytes calldata signature)
        external;

    /// @notice A child-protection officer co-approves or denies a pending request, once per request.
    /// @param requestId The request.
    /// @param approve True to co-approve, false to deny.
    function protectionDecide(uint64 requestId, bool approve) external;

    /// @notice A child-protection officer overrides the guardians by court order.
    /// @param requestId A pending or denied exit request that has not expired.
    /// @param courtOrderHash Hash of the court order's reference, kept off-chain.
    function overrideByCourtOrder(uint64 requestId, bytes32 courtOrderHash) external;

    /// @notice A border officer records what happened at the border.
    /// @dev `Crossed` needs an approved or overridden request, before expiry, of an active child;
    /// `TurnedBack` closes any request that is not closed yet.
    /// @param requestId The request.
    /// @param outcome Crossed or turned back.
    function recordOutcome(uint64 requestId, Outcome outcome) external;

    /// @notice A request as it stands, with `Expired` derived from the current time.
    /// @param requestId The request; reverts when unknown.
    function getRequest(uint64 requestId) external view returns (RequestView memory);

    /// @notice The number the next request will get.
    function nextRequestId() external view returns (uint64);

    /// @notice The EIP-712 digest a guardian signs for `decideBySig`.
    /// @param requestId The request.
    /// @param guardian The guardian.
    /// @param approve The decision.
    /// @param deadline The signature's deadline.
    function decisionDigest(uint64 requestId, address guardian, bool approve, uint256 deadline)
        external
        view
        returns (bytes32);
}
