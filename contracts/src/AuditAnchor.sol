// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";

import {IAuditAnchor} from "./IAuditAnchor.sol";

/// @title Tutela audit anchor
/// @notice The registry's anchoring key writes the head of the off-chain audit log here at
/// intervals; auditors compare the log with every `AuditAnchored` event.
/// @dev Only the last anchor is stored (two slots); the history is the event log, which is
/// what an auditor reads. Entries, actors and reasons never reach the chain: only a count and a
/// hash.
contract AuditAnchor is IAuditAnchor, AccessControlDefaultAdminRules {
    /// @inheritdoc IAuditAnchor
    bytes32 public constant ANCHOR_ROLE = keccak256("ANCHOR_ROLE");

    /// @dev The count and the time share a slot, the head takes its own.
    struct Anchor {
        bytes32 head;
        uint64 entryCount;
        uint40 anchoredAt;
    }

    Anchor private _latest;

    /// @param initialDelay Delay before a default-admin transfer can be accepted (two-step rules).
    /// @param initialAdmin The first default admin, who grants ANCHOR_ROLE.
    constructor(uint48 initialDelay, address initialAdmin)
        AccessControlDefaultAdminRules(initialDelay, initialAdmin)
    {}

    /// @inheritdoc IAuditAnchor
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    /// @inheritdoc IAuditAnchor
    function anchor(uint64 entryCount, bytes32 head) external onlyRole(ANCHOR_ROLE) {
        if (entryCount == 0 || head == bytes32(0)) revert AuditAnchorEmptyHead(entryCount);
        uint64 last = _latest.entryCount;
        // The log only grows: an anchor at or below the last one would let a key holder
        // replace the anchored head of a count already anchored.
        if (entryCount <= last) revert AuditAnchorNotNewer(last, entryCount);
        _latest = Anchor({head: head, entryCount: entryCount, anchoredAt: _now()});
        emit AuditAnchored(entryCount, head, msg.sender);
    }

    /// @inheritdoc IAuditAnchor
    function latest() external view returns (uint64 entryCount, bytes32 head, uint40 anchoredAt) {
        Anchor storage current = _latest;
        return (current.entryCount, current.head, current.anchoredAt);
    }

    /// @dev The one place that reads the clock, so that tests can move it.
    function _now() internal view virtual returns (uint40) {
        return uint40(block.timestamp);
    }
}
