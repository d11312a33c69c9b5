"""Tutela's exceptions: one root whose message is safe to show a user.

Every layer raises a subclass of :class:`TutelaError`. Entry points (the CLI, later the
portal) catch ``TutelaError`` and print ``str(error)``; anything else is a bug and is logged
with its traceback, never shown.
"""

from __future__ import annotations

from typing import Any


class TutelaError(Exception):
    """Root of Tutela's exceptions; ``str()`` is a sentence fit for a user."""


class ConfigurationError(TutelaError):
    """Settings are missing, malformed or inconsistent with the chain."""


class InputError(TutelaError):
    """A value given by a user is malformed (a date, a card number, a document)."""


class ChainError(TutelaError):
    """The chain could not be reached or answered something unexpected."""


class ChainUnavailableError(ChainError):
    """The node is down or refused the connection."""


class TransactionFailedError(ChainError):
    """A transaction was mined but reverted without a reason we could decode."""

    def __init__(self, message: str, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class ContractRevertError(ChainError):
    """A contract refused an action with one of its custom errors.

    Subclasses are generated per Solidity error in :mod:`ledger_client.contracts.reverts`;
    ``arguments`` holds the decoded error arguments by name.
    """

    solidity_name: str = ""
    selector: str = ""
    revert_data: str | None = None

    def __init__(
        self, message: str, arguments: dict[str, Any] | None = None, tx_hash: str | None = None
    ) -> None:
        super().__init__(message)
        self.arguments: dict[str, Any] = dict(arguments or {})
        self.tx_hash = tx_hash


class SignatureError(TutelaError):
    """A signature is malformed, expired or made by the wrong key."""


class StoreError(TutelaError):
    """The off-chain store failed."""


class NotFoundError(StoreError):
    """A record asked for by a user does not exist (card, request, staff member)."""


class ConflictError(StoreError):
    """A record would clash with one that exists."""


class CryptoError(TutelaError):
    """Encryption, decryption or key handling failed (wrong key, tampered data)."""
