"""On-chain enums and ids, mirrored with their Solidity names (no web3 needed to use them)."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import NewType

ChildId = NewType("ChildId", bytes)  # 16 bytes, drawn at random: never derived from personal data
RequestId = NewType("RequestId", int)


class _Chained(StrEnum):
    """A StrEnum whose members also know their Solidity ordinal."""

    @property
    def ordinal(self) -> int:
        return list(type(self)).index(self)

    @classmethod
    def from_ordinal(cls, value: int) -> _Chained:
        members = list(cls)
        if not 0 <= value < len(members):
            raise ValueError(f"{cls.__name__} has no member {value}")
        return members[value]


class ChildStatus(_Chained):
    NONE = "none"
    ACTIVE = "active"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


class PolicyKind(_Chained):
    ANY = "any"
    ALL = "all"
    K_OF_N = "k-of-n"


class Direction(_Chained):
    EXIT = "exit"
    ENTRY = "entry"


class RequestStatus(_Chained):
    NONE = "none"
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    OVERRIDDEN = "overridden"
    CROSSED = "crossed"
    TURNED_BACK = "turned-back"
    EXPIRED = "expired"


class Outcome(_Chained):
    CROSSED = "crossed"
    TURNED_BACK = "turned-back"


class RevocationReason(IntEnum):
    """Reason codes published by the registry; the free-text reason stays off-chain."""

    OTHER = 1
    DUPLICATE = 2
    DATA_ERROR = 3
    FRAUD = 4
    DECEASED = 5
    COURT_ORDER = 6
