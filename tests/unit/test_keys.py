"""Signers and keystores: round trips, wrong passwords, EIP-712 recovery, malleability."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.backends.coincurve import CoinCurveECCBackend
from eth_keys.datatypes import PrivateKey
from eth_utils.crypto import keccak

from ledger_client.contracts.typed_data import decision_message
from ledger_client.errors import ConfigurationError, CryptoError, InputError, SignatureError
from ledger_client.keys import (
    MIN_WORK_FACTOR,
    SECP256K1_N,
    LocalSigner,
    Signer,
    keystore_from_key,
    new_keystore,
    to_high_s,
    unlock_keystore,
)

# The example key from the eth-account documentation: public, never to hold value.
PRIVATE_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
PASSWORD = "correct horse battery staple"
FAST = MIN_WORK_FACTOR


def _typed_decision() -> dict[str, Any]:
    # The message the keys really sign: a guardian's decision on a crossing request.
    return decision_message(
        chain_id=1337,
        ledger_address="0x5FbDB2315678afecb367f032d93F642f64180aa3",
        request_id=7,
        guardian=Account.from_key(PRIVATE_KEY).address,
        approve=True,
        deadline=1_900_000_000,
    )


@pytest.fixture
def signer() -> LocalSigner:
    return LocalSigner.from_key(PRIVATE_KEY)


def _s(signature: bytes) -> int:
    return int.from_bytes(signature[32:64], "big")


# --- the signer ----------------------------------------------------------------------------


def test_local_signer_is_a_signer(signer: LocalSigner) -> None:
    assert isinstance(signer, Signer)
    assert signer.address == Account.from_key(PRIVATE_KEY).address


def test_repr_shows_the_address_only(signer: LocalSigner) -> None:
    for text in (repr(signer), str(signer), f"{signer}", repr([signer])):
        assert PRIVATE_KEY.hex() not in text.lower()
        assert signer.address in text


def test_sign_transaction_recovers_to_the_address(signer: LocalSigner) -> None:
    tx = {
        "type": 2,
        "chainId": 1337,
        "nonce": 0,
        "to": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "value": 0,
        "data": b"\x12\x34",
        "gas": 100_000,
        "maxFeePerGas": 2_000_000_000,
        "maxPriorityFeePerGas": 1_000_000_000,
    }
    raw = signer.sign_transaction(tx)
    assert isinstance(raw, bytes)
    assert raw[0] == 2
    assert Account.recover_transaction(raw) == signer.address


def test_a_malformed_transaction_is_a_signature_error(signer: LocalSigner) -> None:
    with pytest.raises(SignatureError, match="could not be signed"):
        signer.sign_transaction({"chainId": 1337, "nonce": "zero"})


def test_sign_typed_data_recovers_to_the_address(signer: LocalSigner) -> None:
    message = _typed_decision()
    signature = signer.sign_typed_data(message)
    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert _s(signature) <= SECP256K1_N // 2
    recovered = Account.recover_message(
        encode_typed_data(full_message=message), signature=signature
    )
    assert recovered == signer.address


def test_sign_hash_equals_signing_the_typed_data(signer: LocalSigner) -> None:
    signable = encode_typed_data(full_message=_typed_decision())
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    # RFC 6979 nonces are deterministic, so both paths give the very same signature.
    assert signer.sign_hash(digest) == signer.sign_typed_data(_typed_decision())


def test_malformed_typed_data_is_a_signature_error(signer: LocalSigner) -> None:
    message = _typed_decision()
    del message["types"]["Decision"]
    with pytest.raises(SignatureError, match="typed data could not be signed"):
        signer.sign_typed_data(message)


@pytest.mark.parametrize("digest", [b"", b"\x00" * 31, b"\x00" * 33])
def test_sign_hash_needs_32_bytes(signer: LocalSigner, digest: bytes) -> None:
    with pytest.raises(SignatureError, match="32 bytes"):
        signer.sign_hash(digest)


@pytest.mark.parametrize(
    "key", [b"", b"\x01" * 31, b"\x00" * 32, SECP256K1_N.to_bytes(32, "big"), b"\xff" * 32]
)
def test_invalid_private_keys_are_refused(key: bytes) -> None:
    with pytest.raises(CryptoError):
        LocalSigner.from_key(key)


def test_eth_keys_signs_with_coincurve() -> None:
    # Without coincurve, eth-keys silently falls back to pure Python, about 10x slower.
    assert isinstance(PrivateKey(PRIVATE_KEY).backend, CoinCurveECCBackend)


# --- malleability --------------------------------------------------------------------------


def test_to_high_s_still_recovers_but_with_high_s(signer: LocalSigner) -> None:
    message = _typed_decision()
    low = signer.sign_typed_data(message)
    high = to_high_s(low)
    assert high[:32] == low[:32]
    assert _s(high) > SECP256K1_N // 2
    assert _s(high) == SECP256K1_N - _s(low)
    assert {low[64], high[64]} == {27, 28}
    signable = encode_typed_data(full_message=message)
    assert Account.recover_message(signable, signature=high) == signer.address


def test_to_high_s_accepts_v_0_and_1(signer: LocalSigner) -> None:
    low = signer.sign_hash(b"\x11" * 32)
    zero_based = low[:64] + bytes((low[64] - 27,))
    assert to_high_s(zero_based)[64] == 1 - zero_based[64]


def test_to_high_s_refuses_what_it_cannot_malleate(signer: LocalSigner) -> None:
    low = signer.sign_hash(b"\x11" * 32)
    with pytest.raises(SignatureError, match="lower half"):
        to_high_s(to_high_s(low))
    with pytest.raises(SignatureError, match="v must be"):
        to_high_s(low[:64] + b"\x05")
    with pytest.raises(SignatureError, match="65 bytes"):
        to_high_s(low[:64])


# --- keystores -----------------------------------------------------------------------------


def test_new_keystore_round_trip() -> None:
    keystore, address = new_keystore(PASSWORD)
    assert keystore["version"] == 3
    assert keystore["crypto"]["kdf"] == "scrypt"
    assert keystore["crypto"]["kdfparams"]["n"] == 2**14
    assert PASSWORD not in repr(keystore)
    assert unlock_keystore(keystore, PASSWORD).address == address


def test_keystore_from_key_is_a_standard_keystore() -> None:
    keystore, address = keystore_from_key(PRIVATE_KEY, PASSWORD, work_factor=FAST)
    assert address == Account.from_key(PRIVATE_KEY).address
    assert keystore["crypto"]["kdfparams"]["n"] == FAST
    assert PRIVATE_KEY.hex() not in repr(keystore)
    # Any Web3 Secret Storage reader opens it; eth-account is one.
    assert bytes(Account.decrypt(keystore, PASSWORD)) == PRIVATE_KEY
    assert unlock_keystore(keystore, PASSWORD).address == address


def test_wrong_password_names_the_address_only() -> None:
    keystore, address = keystore_from_key(PRIVATE_KEY, PASSWORD, work_factor=FAST)
    with pytest.raises(CryptoError) as caught:
        unlock_keystore(keystore, "Correct horse battery staple")
    assert str(caught.value) == f"wrong password for key {address}"
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def _edited(keystore: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    edited = copy.deepcopy(keystore)
    target = edited
    for name in path[:-1]:
        target = target[name]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return edited


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("crypto",), None, "malformed"),
        (("version",), 4, "malformed"),
        (("crypto", "kdf"), "argon2", "malformed"),
        (("crypto", "kdfparams", "n"), 2**30, "malformed"),
        (("crypto", "kdfparams", "n"), 3000, "malformed"),
        (("crypto", "kdfparams", "r"), 2**20, "malformed"),
        (("crypto", "kdfparams", "p"), "8", "malformed"),
        (("crypto", "ciphertext"), "zz", "malformed"),
        (("crypto", "mac"), "00" * 32, "wrong password"),
        (("address",), "00" * 20, "holds a different key"),
    ],
)
def test_malformed_keystores_are_refused(path: tuple[str, ...], value: Any, message: str) -> None:
    keystore, _ = keystore_from_key(PRIVATE_KEY, PASSWORD, work_factor=FAST)
    with pytest.raises(CryptoError, match=message) as caught:
        unlock_keystore(_edited(keystore, path, value), PASSWORD)
    assert PASSWORD not in str(caught.value)


def test_a_keystore_without_an_address_still_opens() -> None:
    keystore, address = keystore_from_key(PRIVATE_KEY, PASSWORD, work_factor=FAST)
    del keystore["address"]
    assert unlock_keystore(keystore, PASSWORD).address == address
    with pytest.raises(CryptoError, match=r"wrong password for key \(no address\)"):
        unlock_keystore(keystore, "nope")


def test_a_non_dict_keystore_is_refused() -> None:
    with pytest.raises(CryptoError, match="malformed"):
        unlock_keystore([], PASSWORD)  # type: ignore[arg-type]


def test_empty_password_is_refused() -> None:
    with pytest.raises(InputError, match="password"):
        new_keystore("", work_factor=FAST)


@pytest.mark.parametrize("work_factor", [0, 2**9, 3 * 2**12, 2**21, True])
def test_work_factor_must_be_a_power_of_two_in_range(work_factor: int) -> None:
    with pytest.raises(ConfigurationError, match="power of two"):
        keystore_from_key(PRIVATE_KEY, PASSWORD, work_factor=work_factor)
