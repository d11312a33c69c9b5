// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Bench-only emitter of the crossing ledger's events
/// @notice Emits the crossing events of `ICrossingLedger` (same signatures, same indexed topics)
/// from calldata, hundreds per transaction, so that `scripts/bench/history.py` can put a million
/// of them on anvil in minutes and time `eth_getLogs` over them.
/// @dev Never deploy this outside a bench: anyone may emit anything. The enums and events are
/// copied from `contracts/src/ICrossingLedger.sol`; the bench checks that their ABI still matches
/// the CrossingLedger artifact's before it uses them.
contract HistoryEmitter {
    enum Direction {
        Exit,
        Entry
    }

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

    event CrossingRequested(
        uint64 indexed requestId,
        bytes16 indexed childId,
        bytes32 indexed companionCommitment,
        Direction direction,
        bytes16 borderPoint,
        uint40 expiresAt,
        address officer
    );
    event GuardianDecided(
        uint64 indexed requestId, address indexed guardian, bool approved, bool counted, RequestStatus status
    );
    event ProtectionDecided(uint64 indexed requestId, address indexed officer, bool approved, RequestStatus status);
    event CrossingOverridden(uint64 indexed requestId, address indexed officer, bytes32 courtOrderHash);
    event CrossingRecorded(uint64 indexed requestId, bytes16 indexed childId, Outcome outcome, address officer);

    struct Requested {
        uint64 requestId;
        bytes16 childId;
        bytes32 companionCommitment;
        Direction direction;
        bytes16 borderPoint;
        uint40 expiresAt;
        address officer;
    }

    struct GuardianDecision {
        uint64 requestId;
        address guardian;
        bool approved;
        bool counted;
        RequestStatus status;
    }

    struct ProtectionDecision {
        uint64 requestId;
        address officer;
        bool approved;
        RequestStatus status;
    }

    struct Override {
        uint64 requestId;
        address officer;
        bytes32 courtOrderHash;
    }

    struct Recorded {
        uint64 requestId;
        bytes16 childId;
        Outcome outcome;
        address officer;
    }

    /// @notice Emits every event given, kind by kind, in the order of each array.
    function emitBatch(
        Requested[] calldata requested,
        GuardianDecision[] calldata guardianDecisions,
        ProtectionDecision[] calldata protectionDecisions,
        Override[] calldata overrides,
        Recorded[] calldata recorded
    ) external {
        for (uint256 i = 0; i < requested.length; ++i) {
            Requested calldata r = requested[i];
            emit CrossingRequested(
                r.requestId, r.childId, r.companionCommitment, r.direction, r.borderPoint, r.expiresAt, r.officer
            );
        }
        for (uint256 i = 0; i < guardianDecisions.length; ++i) {
            GuardianDecision calldata d = guardianDecisions[i];
            emit GuardianDecided(d.requestId, d.guardian, d.approved, d.counted, d.status);
        }
        for (uint256 i = 0; i < protectionDecisions.length; ++i) {
            ProtectionDecision calldata p = protectionDecisions[i];
            emit ProtectionDecided(p.requestId, p.officer, p.approved, p.status);
        }
        for (uint256 i = 0; i < overrides.length; ++i) {
            emit CrossingOverridden(overrides[i].requestId, overrides[i].officer, overrides[i].courtOrderHash);
        }
        for (uint256 i = 0; i < recorded.length; ++i) {
            Recorded calldata o = recorded[i];
            emit CrossingRecorded(o.requestId, o.childId, o.outcome, o.officer);
        }
    }
}
