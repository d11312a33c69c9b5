"""Keys behind a :class:`Signer`: a local key today, a KMS or an HSM later.

Code that sends transactions or signs decisions receives a ``Signer`` and never sees a
private key. Keys rest in standard Web3 Secret Storage v3 keystores (scrypt, AES-128-CTR,
as produced by eth-account and geth), so an operator can inspect or move them with common
tools. Nothing here prompts for a password: the entry point asks and passes it in.

Signatures are made by eth-account, which signs through eth-keys; eth-keys uses libsecp256k1
(via coincurve) when coincurve is importable, and its pure-Python backend otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Protocol, cast, runtime_checkable

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, Hash32
from eth_utils.address import to_checksum_address

from ledger_client.errors import ConfigurationError, CryptoError, InputError, SignatureError

__all__ = [
    "DEFAULT_WORK_FACTOR",
    "MAX_WORK_FACTOR",
    "MIN_WORK_FACTOR",
    "SECP256K1_N",
    "LocalSigner",
    "Signer",
    "keystore_from_key",
    "new_keystore",
    "reencrypt_keystore",
    "to_high_s",
    "unlock_keystore",
]

SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N: Final = SECP256K1_N // 2

DEFAULT_WORK_FACTOR: Final = 2**14
# Below this a stolen keystore falls to a password guesser too easily; fast tests use it.
MIN_WORK_FACTOR: Final = 2**10
MAX_WORK_FACTOR: Final = 2**20
# Limits on keystores we are asked to open, so a hostile file cannot make scrypt allocate
# gigabytes or run for minutes. geth's standard (n=2**18, r=8, p=1) and eth-account's
# (n=2**18, r=1, p=8) are well inside them.
_MAX_SCRYPT_MEMORY: Final = 2**30
_MAX_SCRYPT_COST: Final = 2**24
_MAX_PBKDF2_ROUNDS: Final = 2**24

_SIGNATURE_BYTES: Final = 65
_HEX_ADDRESS: Final = re.compile(r"(?:0x)?([0-9a-fA-F]{40})")


@runtime_checkable
class Signer(Protocol):
    """Whatever can sign for one Ethereum account; implementations never expose the key."""

    @property
    def address(self) -> ChecksumAddress:
        """The account's checksummed address."""
        ...

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        """Return the raw signed transaction, ready for ``eth_sendRawTransaction``."""
        ...

    def sign_typed_data(self, full_message: dict[str, Any]) -> bytes:
        """Return the 65-byte ``r || s || v`` signature of an EIP-712 message.

        ``full_message`` holds ``types``, ``primaryType``, ``domain`` and ``message``.
        """
        ...

    def sign_hash(self, digest: bytes) -> bytes:
        """Return the 65-byte ``r || s || v`` signature of a 32-byte digest."""
        ...


class LocalSigner:
    """A :class:`Signer` over a private key held in memory (eth-account ``LocalAccount``).

    Its ``repr`` and ``str`` show only the address.
    """

    __slots__ = ("_account",)

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @classmethod
    def from_key(cls, private_key: bytes) -> LocalSigner:
        """Return a signer for a raw 32-byte secp256k1 private key.

        Raises:
            CryptoError: The key is not 32 bytes or not a valid secp256k1 scalar.
        """
        return cls(Account.from_key(_check_private_key(private_key)))

    @property
    def address(self) -> ChecksumAddress:
        """The account's checksummed address."""
        return self._account.address

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        """Sign a transaction dict (legacy, EIP-2930 or EIP-1559 fields).

        Raises:
            SignatureError: The transaction is incomplete or malformed, or its ``from`` is
                another account.
        """
        try:
            signed = self._account.sign_transaction(cast(Any, tx))
        except (TypeError, ValueError, KeyError) as exc:
            raise SignatureError(f"the transaction could not be signed: {exc}") from None
        return bytes(signed.raw_transaction)

    def sign_typed_data(self, full_message: dict[str, Any]) -> bytes:
        """Sign an EIP-712 message given in full (``types``, ``primaryType``, ...).

        Raises:
            SignatureError: The typed data is malformed.
        """
        try:
            signed = self._account.sign_typed_data(full_message=full_message)
        except (TypeError, ValueError, KeyError) as exc:
            # eth-account's message may quote the offending field; typed data carries only
            # commitments and IDs, never personal data, so it is safe to pass on.
            raise SignatureError(f"the typed data could not be signed: {exc}") from None
        return bytes(signed.signature)

    def sign_hash(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest as it is, without any prefix.

        Only for digests that are already domain-separated (an EIP-712 digest computed
        elsewhere): a digest signed blindly could be a transaction's.

        Raises:
            SignatureError: ``digest`` is not 32 bytes.
        """
        if not isinstance(digest, bytes | bytearray) or len(digest) != 32:
            raise SignatureError("a digest to sign must be exactly 32 bytes")
        signed = self._account.unsafe_sign_hash(Hash32(bytes(digest)))
        return bytes(signed.signature)

    def __repr__(self) -> str:
        return f"LocalSigner(address={self.address!r})"

    __str__ = __repr__


def _check_private_key(private_key: bytes) -> bytes:
    if not isinstance(private_key, bytes | bytearray) or len(private_key) != 32:
        raise CryptoError("a private key must be exactly 32 bytes")
    if not 0 < int.from_bytes(private_key, "big") < SECP256K1_N:
        raise CryptoError("the private key is not a valid secp256k1 key")
    return bytes(private_key)


def _check_work_factor(work_factor: int) -> None:
    if (
        isinstance(work_factor, bool)
        or not isinstance(work_factor, int)
        or work_factor & (work_factor - 1)
        or not MIN_WORK_FACTOR <= work_factor <= MAX_WORK_FACTOR
    ):
        raise ConfigurationError(
            f"the keystore work factor must be a power of two from {MIN_WORK_FACTOR} "
            f"to {MAX_WORK_FACTOR}"
        )


def keystore_from_key(
    private_key: bytes, password: str, *, work_factor: int = DEFAULT_WORK_FACTOR
) -> tuple[dict[str, Any], ChecksumAddress]:
    """Encrypt an existing private key as a Web3 Secret Storage v3 keystore (scrypt).

    Args:
        private_key: The raw 32-byte key.
        password: The keystore password; asked for by the entry point, never here.
        work_factor: scrypt's ``n``, a power of two from 2**10 to 2**20 (eth-keyfile fixes
            r=1, p=8); 2**14 takes about 35 ms to unlock on a 2-core VM, 2**18 about 0.8 s.

    Returns:
        The keystore (JSON-serialisable) and the key's checksummed address.

    Raises:
        CryptoError: The private key is not a valid secp256k1 key.
        InputError: The password is empty.
        ConfigurationError: The work factor is not a power of two within bounds.
    """
    key = _check_private_key(private_key)
    if not isinstance(password, str) or not password:
        raise InputError("a keystore password must not be empty")
    _check_work_factor(work_factor)
    keystore = Account.encrypt(key, password, kdf="scrypt", iterations=work_factor)
    return keystore, Account.from_key(key).address


def new_keystore(
    password: str, *, work_factor: int = DEFAULT_WORK_FACTOR
) -> tuple[dict[str, Any], ChecksumAddress]:
    """Generate a private key and return it encrypted as a v3 keystore, with its address.

    The key exists only inside the returned keystore.

    Raises:
        InputError: The password is empty.
        ConfigurationError: The work factor is not a power of two within bounds.
    """
    account = Account.create()
    return keystore_from_key(bytes(account.key), password, work_factor=work_factor)


def _keystore_label(keystore: Mapping[str, Any]) -> str:
    address = keystore.get("address")
    match = _HEX_ADDRESS.fullmatch(address) if isinstance(address, str) else None
    return to_checksum_address("0x" + match.group(1)) if match else "(no address)"


def _int_param(params: Mapping[str, Any], name: str) -> int:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(name)
    return value


def _check_kdf_cost(keystore: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for a keystore that is not v3 or would cost too much to open."""
    if keystore.get("version") != 3:
        raise ValueError("version")
    crypto = keystore.get("crypto", keystore.get("Crypto"))
    if not isinstance(crypto, Mapping) or not isinstance(crypto.get("kdfparams"), Mapping):
        raise ValueError("crypto")
    params = crypto["kdfparams"]
    if crypto.get("kdf") == "scrypt":
        n, r, p = (_int_param(params, name) for name in ("n", "r", "p"))
        if n & (n - 1) or 128 * r * n > _MAX_SCRYPT_MEMORY or n * r * p > _MAX_SCRYPT_COST:
            raise ValueError("scrypt parameters")
    elif crypto.get("kdf") == "pbkdf2":
        if _int_param(params, "c") > _MAX_PBKDF2_ROUNDS:
            raise ValueError("pbkdf2 parameters")
    else:
        raise ValueError("kdf")


def unlock_keystore(keystore: dict[str, Any], password: str) -> LocalSigner:
    """Decrypt a v3 keystore and return a signer for its key.

    Args:
        keystore: The parsed keystore JSON.
        password: The keystore password.

    Raises:
        CryptoError: The password is wrong ("wrong password for key 0x…"), or the keystore
            is malformed, uses unsupported or excessive KDF parameters, or names an address
            other than its key's. Messages name the address only.
    """
    label = _keystore_label(keystore) if isinstance(keystore, Mapping) else "(no address)"
    try:
        _check_kdf_cost(keystore)
        private_key = bytes(Account.decrypt(keystore, password))
    except ValueError as exc:
        # eth-keyfile reports a failed MAC check as "MAC mismatch": the password is wrong
        # (or the ciphertext was altered, which the MAC cannot tell apart).
        if "MAC mismatch" in str(exc):
            raise CryptoError(f"wrong password for key {label}") from None
        raise CryptoError(f"the keystore for key {label} is malformed") from None
    except (TypeError, KeyError, AttributeError, IndexError):
        raise CryptoError(f"the keystore for key {label} is malformed") from None
    try:
        signer = LocalSigner.from_key(private_key)
    except CryptoError:
        raise CryptoError(f"the keystore for key {label} is malformed") from None
    # The address field is outside the MAC: a mismatch means the file was edited.
    if label != "(no address)" and signer.address != label:
        raise CryptoError(f"the keystore for key {label} holds a different key")
    return signer


def to_high_s(signature: bytes) -> bytes:
    """Return the malleated twin of a low-s signature: ``s' = n - s``, ``v`` flipped.

    A test helper: the twin recovers to the same address, and the contracts must refuse
    it (EIP-2), as OpenZeppelin's ECDSA does. Never use it to produce real signatures.

    Raises:
        SignatureError: ``signature`` is not 65 bytes, its ``v`` is not 0, 1, 27 or 28, or
            its ``s`` is already high.
    """
    if not isinstance(signature, bytes | bytearray) or len(signature) != _SIGNATURE_BYTES:
        raise SignatureError(f"a signature must be exactly {_SIGNATURE_BYTES} bytes")
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    if v not in (0, 1, 27, 28):
        raise SignatureError("the signature's v must be 0, 1, 27 or 28")
    if not 0 < s <= _HALF_N:
        raise SignatureError("the signature's s is not in the lower half of the curve order")
    # v's parity says which of the two points with x = r was used; -s selects the other.
    flipped_v = v ^ 1 if v in (0, 1) else 55 - v
    return bytes(r) + (SECP256K1_N - s).to_bytes(32, "big") + bytes((flipped_v,))


def reencrypt_keystore(
    keystore: dict[str, Any], password: str, *new_passwords: str, work_factor: int
) -> list[dict[str, Any]]:
    """The same key in new keystores, one under each of ``new_passwords``.

    The raw key exists only inside this function, for the moment of re-encrypting it.

    Raises:
        CryptoError: ``password`` does not open ``keystore``, or it is malformed.
    """
    unlock_keystore(keystore, password)  # the checks: KDF cost limits, MAC, address
    key = bytes(Account.decrypt(keystore, password))
    try:
        return [keystore_from_key(key, new, work_factor=work_factor)[0] for new in new_passwords]
    finally:
        del key
