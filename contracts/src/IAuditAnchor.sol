// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Tutela audit anchor
/// @notice Holds the head of the registry's off-chain audit log at intervals: the number of
/// entries and the hash of the last one. An auditor who re-reads the log and finds that entry
/// missing or different knows the log was cut short or rewritten after it was anchored. Only
/// hashes reach this contract: the log's entries stay in the registry's store.
interface IAuditAnchor {
    /// @notice The log held `entryCount` entries and the last one hashed to `head`.
    /// @param entryCount The number of entries up to and including the anchored one (1-based).
    /// @param head The anchored entry's hash (sha256 of its canonical body).
    /// @param by The account that anchored it.
    event AuditAnchored(uint64 indexed entryCount, bytes32 head, address indexed by);

    /// @notice An anchor must cover more entries than the last one: the log only grows.
    error AuditAnchorNotNewer(uint64 last, uint64 given);

    /// @notice An anchor of nothing: a zero head or a count of zero.
    error AuditAnchorEmptyHead(uint64 entryCount);

    /// @notice The role of the registry's anchoring key: the only account that anchors.
    function ANCHOR_ROLE() external view returns (bytes32);

    /// @notice The version of this contract's interface, checked by the client at start-up.
    function version() external pure returns (string memory);

    /// @notice Records that the audit log held `entryCount` entries ending in `head`.
    /// @dev Reverts with `AuditAnchorNotNewer` unless `entryCount` exceeds the last anchored
    /// count, and with `AuditAnchorEmptyHead` for a zero count or head. Emits `AuditAnchored`.
    /// @param entryCount The number of entries in the log, the anchored one being the last.
    /// @param head The hash of entry number `entryCount`.
    function anchor(uint64 entryCount, bytes32 head) external;

    /// @notice The last anchor: its entry count, head and block time (all zero before the first).
    function latest() external view returns (uint64 entryCount, bytes32 head, uint40 anchoredAt);
}
