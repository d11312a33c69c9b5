"""Envelope encryption of personal data (AES-256-GCM, from ``cryptography``).

Every record gets its own random 256-bit data key. The data key encrypts the record; the
registry's :class:`MasterKey` wraps (encrypts) the data key. Both encryptions are AES-GCM
and both bind the record's *associated data* (for example ``b"children:42"``), so a sealed
record copied into another row does not open there.

Erasure is crypto-shredding: deleting a record's wrapped key makes its ciphertext
unreadable for good, because the data key exists nowhere else. The erasure reaches a
backup only once no copy of the wrapped key survives there either; destroying a retired
master key after re-wrapping the live records with :func:`rewrap` shreds every record that
only old backups still hold.

This module and `card_qr` (the Ed25519 card signatures) are the only ones that import
``cryptography`` (STYLE.md: one library, one layer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger_client.errors import CryptoError, InputError

__all__ = [
    "KEY_BYTES",
    "MasterKey",
    "SealedRecord",
    "open_json",
    "open_sealed",
    "rewrap",
    "seal",
    "seal_json",
]

KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
# A wrapped key is its own nonce followed by the AES-GCM encryption of a data key.
_WRAPPED_KEY_BYTES: Final = _NONCE_BYTES + KEY_BYTES + _TAG_BYTES
_KEY_ID_CHARS: Final = 8

# Serialised form: magic, format version, then length-prefixed fields (see to_bytes).
_MAGIC: Final = b"TSR"
_FORMAT_VERSION: Final = 1
# Domain separation: a wrapped key can never be passed off as record data, or the reverse.
_WRAP_DOMAIN: Final = b"tutela/wrap/v1\x00"
_DATA_DOMAIN: Final = b"tutela/data/v1\x00"

_OPEN_FAILED: Final = (
    "the record could not be decrypted: wrong key, wrong record, or the data was altered"
)


class SecretKey:
    """A 32-byte secret whose bytes never appear in ``repr`` or ``str``.

    Only :attr:`key_id` does, so that a log or a traceback can say which key was used
    without leaking it.
    """

    __slots__ = ("_key",)
    _label: ClassVar[str] = "a key"

    def __init__(self, key: bytes) -> None:
        """Wrap existing key bytes; prefer :meth:`generate` or :meth:`from_bytes`.

        Raises:
            CryptoError: ``key`` is not exactly 32 bytes.
        """
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
            raise CryptoError(f"{self._label} must be exactly {KEY_BYTES} bytes")
        self._key = bytes(key)

    @classmethod
    def generate(cls) -> Self:
        """Return a new key from the operating system's CSPRNG."""
        return cls(os.urandom(KEY_BYTES))

    @classmethod
    def from_bytes(cls, key: bytes) -> Self:
        """Return the key held in ``key``.

        Raises:
            CryptoError: ``key`` is not exactly 32 bytes.
        """
        return cls(key)

    def to_bytes(self) -> bytes:
        """Return the raw key, for writing to a protected key file only."""
        return self._key

    @property
    def key_id(self) -> str:
        """The first 8 hex digits of the key's SHA-256, telling rotated keys apart."""
        return hashlib.sha256(self._key).hexdigest()[:_KEY_ID_CHARS]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key_id={self.key_id!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, SecretKey)
        return hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self.key_id)


class MasterKey(SecretKey):
    """The registry's key that wraps every record's data key.

    AES-GCM with random 96-bit nonces stays within NIST's bounds for 2**32 wraps per key;
    rotate the master key long before that.
    """

    __slots__ = ()
    _label = "a master key"


@dataclass(frozen=True)
class SealedRecord:
    """A record encrypted under its own data key, the data key wrapped by a master key.

    Attributes:
        key_id: The :attr:`MasterKey.key_id` of the master key that wrapped the data key.
        wrapped_key: The wrapping nonce followed by the encrypted data key (60 bytes).
            Deleting it erases the record.
        nonce: The 12-byte nonce of the data encryption.
        ciphertext: The encrypted data followed by its 16-byte GCM tag.
    """

    key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes

    def to_bytes(self) -> bytes:
        """Serialise for storage in one binary column.

        The layout is ``b"TSR"``, a version byte (1), then the key id (u8 length + ASCII),
        the wrapped key (u16 length), the nonce (u8 length) and the ciphertext (u32 length),
        lengths big-endian, so that every later version can be told apart and parsed.

        Raises:
            CryptoError: A field does not fit the format (only for a hand-built record).
        """
        try:
            key_id = self.key_id.encode("ascii")
        except UnicodeEncodeError:
            raise CryptoError("the sealed record's key id is not ASCII") from None
        if (
            len(key_id) > 0xFF
            or len(self.wrapped_key) > 0xFFFF
            or len(self.nonce) > 0xFF
            or len(self.ciphertext) > 0xFFFFFFFF
        ):
            raise CryptoError("the sealed record has a field too long to store")
        return b"".join(
            (
                _MAGIC,
                bytes((_FORMAT_VERSION, len(key_id))),
                key_id,
                struct.pack(">H", len(self.wrapped_key)),
                self.wrapped_key,
                bytes((len(self.nonce),)),
                self.nonce,
                struct.pack(">I", len(self.ciphertext)),
                self.ciphertext,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedRecord:
        """Parse the output of :meth:`to_bytes`.

        Raises:
            CryptoError: ``data`` is not a sealed record of a known version, or is truncated
                or has trailing bytes.
        """
        reader = _Reader(bytes(data))
        if reader.take(len(_MAGIC)) != _MAGIC:
            raise CryptoError("the stored value is not a sealed record")
        version = reader.take(1)[0]
        if version != _FORMAT_VERSION:
            raise CryptoError(f"sealed record format version {version} is not supported")
        key_id_raw = reader.take(reader.take(1)[0])
        wrapped_key = reader.take(struct.unpack(">H", reader.take(2))[0])
        nonce = reader.take(reader.take(1)[0])
        ciphertext = reader.take(struct.unpack(">I", reader.take(4))[0])
        reader.finish()
        try:
            key_id = key_id_raw.decode("ascii")
        except UnicodeDecodeError:
            raise CryptoError("the sealed record is malformed") from None
        return cls(key_id=key_id, wrapped_key=wrapped_key, nonce=nonce, ciphertext=ciphertext)


class _Reader:
    """A bounds-checked cursor over bytes, so a truncated record fails with CryptoError."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def take(self, count: int) -> bytes:
        end = self._offset + count
        if end > len(self._data):
            raise CryptoError("the sealed record is malformed")
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def finish(self) -> None:
        if self._offset != len(self._data):
            raise CryptoError("the sealed record is malformed")


def _length_prefixed(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def _wrap_aad(key_id: str, associated_data: bytes) -> bytes:
    # The key id is bound too, so relabelling a record for another key cannot go unnoticed.
    return _WRAP_DOMAIN + _length_prefixed(key_id.encode("ascii")) + associated_data


def _data_aad(associated_data: bytes) -> bytes:
    return _DATA_DOMAIN + associated_data


def _check_associated_data(associated_data: bytes) -> None:
    if not isinstance(associated_data, bytes | bytearray) or not associated_data:
        # Empty associated data would let a sealed record be moved to any row unnoticed.
        raise CryptoError("associated data must be non-empty bytes naming the record")


def seal(master: MasterKey, plaintext: bytes, *, associated_data: bytes) -> SealedRecord:
    """Encrypt ``plaintext`` under a fresh data key wrapped by ``master``.

    To erase the record later, delete its wrapped key (or the whole sealed record): the data
    key exists nowhere else, so the ciphertext can no longer be decrypted by anyone.

    Args:
        master: The registry's current master key.
        plaintext: The data to protect.
        associated_data: Names the record, e.g. ``b"children:42"``; the same bytes must be
            given to :func:`open_sealed`. It is authenticated, not encrypted.

    Returns:
        The sealed record; store it with :meth:`SealedRecord.to_bytes`.

    Raises:
        CryptoError: ``associated_data`` is empty.
    """
    _check_associated_data(associated_data)
    associated_data = bytes(associated_data)
    data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    wrap_nonce = os.urandom(_NONCE_BYTES)
    wrapped_key = wrap_nonce + AESGCM(master.to_bytes()).encrypt(
        wrap_nonce, data_key, _wrap_aad(master.key_id, associated_data)
    )
    # The data key encrypts exactly one message, so a random nonce can never repeat under it.
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, bytes(plaintext), _data_aad(associated_data))
    return SealedRecord(
        key_id=master.key_id, wrapped_key=wrapped_key, nonce=nonce, ciphertext=ciphertext
    )


def _unwrap(master: MasterKey, record: SealedRecord, associated_data: bytes) -> bytes:
    _check_associated_data(associated_data)
    if record.key_id != master.key_id:
        raise CryptoError(
            f"the record was sealed with master key {record.key_id!r}, "
            f"not with the key given ({master.key_id!r})"
        )
    if len(record.wrapped_key) != _WRAPPED_KEY_BYTES or len(record.nonce) != _NONCE_BYTES:
        raise CryptoError(_OPEN_FAILED)
    wrap_nonce = record.wrapped_key[:_NONCE_BYTES]
    try:
        return AESGCM(master.to_bytes()).decrypt(
            wrap_nonce,
            record.wrapped_key[_NONCE_BYTES:],
            _wrap_aad(record.key_id, bytes(associated_data)),
        )
    except InvalidTag:
        raise CryptoError(_OPEN_FAILED) from None


def open_sealed(master: MasterKey, record: SealedRecord, *, associated_data: bytes) -> bytes:
    """Decrypt a record made by :func:`seal`.

    Args:
        master: The master key whose :attr:`MasterKey.key_id` equals ``record.key_id``.
        record: The sealed record.
        associated_data: The same bytes that were given to :func:`seal`.

    Returns:
        The plaintext.

    Raises:
        CryptoError: The master key is not the one that sealed the record, the associated
            data differs, or any part of the record was altered. The message names no
            secret and is safe to show.
    """
    data_key = _unwrap(master, record, associated_data)
    return _decrypt_data(data_key, record, associated_data)


def _decrypt_data(data_key: bytes, record: SealedRecord, associated_data: bytes) -> bytes:
    try:
        return AESGCM(data_key).decrypt(
            record.nonce, record.ciphertext, _data_aad(bytes(associated_data))
        )
    except InvalidTag:
        raise CryptoError(_OPEN_FAILED) from None


def rewrap(
    old: MasterKey, new: MasterKey, record: SealedRecord, *, associated_data: bytes
) -> SealedRecord:
    """Re-wrap a record's data key under a new master key, for key rotation.

    Only the 60-byte wrapped key changes; the ciphertext is carried over untouched, so a
    rotation costs one small write per record. The data is authenticated before the new
    record is returned, so a corrupted record is reported rather than re-wrapped.

    Raises:
        CryptoError: As for :func:`open_sealed`.
    """
    data_key = _unwrap(old, record, associated_data)
    _decrypt_data(data_key, record, associated_data)
    wrap_nonce = os.urandom(_NONCE_BYTES)
    wrapped_key = wrap_nonce + AESGCM(new.to_bytes()).encrypt(
        wrap_nonce, data_key, _wrap_aad(new.key_id, bytes(associated_data))
    )
    return SealedRecord(
        key_id=new.key_id,
        wrapped_key=wrapped_key,
        nonce=record.nonce,
        ciphertext=record.ciphertext,
    )


def _canonical_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def seal_json(
    master: MasterKey, payload: dict[str, Any], *, associated_data: bytes
) -> SealedRecord:
    """Seal a JSON object as canonical UTF-8 JSON (sorted keys, no spaces).

    Raises:
        InputError: ``payload`` is not a dict, or holds a value JSON cannot represent
            (a date, bytes, NaN): convert those first.
        CryptoError: As for :func:`seal`.
    """
    if not isinstance(payload, dict):
        raise InputError("a sealed JSON payload must be an object")
    try:
        plaintext = _canonical_json(payload)
    except (TypeError, ValueError) as exc:
        raise InputError(f"the payload cannot be stored as JSON ({type(exc).__name__})") from None
    return seal(master, plaintext, associated_data=associated_data)


def open_json(master: MasterKey, record: SealedRecord, *, associated_data: bytes) -> dict[str, Any]:
    """Open a record made by :func:`seal_json`.

    Raises:
        CryptoError: As for :func:`open_sealed`, or the plaintext is not a JSON object.
    """
    plaintext = open_sealed(master, record, associated_data=associated_data)
    try:
        payload = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CryptoError("the record does not hold a JSON object") from None
    if not isinstance(payload, dict):
        raise CryptoError("the record does not hold a JSON object")
    return payload
