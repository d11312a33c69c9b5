"""Envelope encryption: round trips, tampering, wrong key, wrong associated data."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_client.crypto import (
    MasterKey,
    SealedRecord,
    open_json,
    open_sealed,
    rewrap,
    seal,
    seal_json,
)
from ledger_client.errors import CryptoError, InputError

AAD = b"children:42"


@pytest.fixture
def master() -> MasterKey:
    return MasterKey.generate()


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes((data[index] ^ 0x01,)) + data[index + 1 :]


def test_round_trip(master: MasterKey) -> None:
    record = seal(master, b"Ana Pop, 2015-03-01", associated_data=AAD)
    assert open_sealed(master, record, associated_data=AAD) == b"Ana Pop, 2015-03-01"
    assert record.key_id == master.key_id
    assert b"Ana" not in record.to_bytes()


def test_each_record_has_its_own_data_key_and_nonces(master: MasterKey) -> None:
    first = seal(master, b"same", associated_data=AAD)
    second = seal(master, b"same", associated_data=AAD)
    assert first.wrapped_key != second.wrapped_key
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


@given(plaintext=st.binary(max_size=512), aad=st.binary(min_size=1, max_size=64))
def test_round_trip_through_storage_format(plaintext: bytes, aad: bytes) -> None:
    key = MasterKey.from_bytes(bytes(range(32)))
    record = seal(key, plaintext, associated_data=aad)
    stored = SealedRecord.from_bytes(record.to_bytes())
    assert stored == record
    assert open_sealed(key, stored, associated_data=aad) == plaintext


@pytest.mark.parametrize("field", ["wrapped_key", "nonce", "ciphertext"])
@pytest.mark.parametrize("position", [0, -1])
def test_tampering_with_any_part_fails(master: MasterKey, field: str, position: int) -> None:
    record = seal(master, b"secret", associated_data=AAD)
    value: bytes = getattr(record, field)
    changes: dict[str, Any] = {field: _flip(value, position % len(value))}
    tampered = dataclasses.replace(record, **changes)
    with pytest.raises(CryptoError, match="could not be decrypted"):
        open_sealed(master, tampered, associated_data=AAD)


@pytest.mark.parametrize("field", ["wrapped_key", "nonce", "ciphertext"])
def test_truncating_any_part_fails(master: MasterKey, field: str) -> None:
    record = seal(master, b"secret", associated_data=AAD)
    changes: dict[str, Any] = {field: getattr(record, field)[:-1]}
    tampered = dataclasses.replace(record, **changes)
    with pytest.raises(CryptoError, match="could not be decrypted"):
        open_sealed(master, tampered, associated_data=AAD)


def test_relabelled_key_id_fails(master: MasterKey) -> None:
    record = seal(master, b"secret", associated_data=AAD)
    with pytest.raises(CryptoError, match="sealed with master key"):
        open_sealed(master, dataclasses.replace(record, key_id="00000000"), associated_data=AAD)


def test_every_byte_of_the_stored_form_is_protected(master: MasterKey) -> None:
    stored = seal(master, b"secret", associated_data=AAD).to_bytes()

    def load_and_open(data: bytes) -> bytes:
        return open_sealed(master, SealedRecord.from_bytes(data), associated_data=AAD)

    assert load_and_open(stored) == b"secret"
    for index in range(len(stored)):
        with pytest.raises(CryptoError):
            load_and_open(_flip(stored, index))


def test_wrong_master_key_fails_with_a_safe_message(master: MasterKey) -> None:
    record = seal(master, b"secret", associated_data=AAD)
    other = MasterKey.generate()
    with pytest.raises(CryptoError) as caught:
        open_sealed(other, record, associated_data=AAD)
    assert other.to_bytes().hex() not in str(caught.value)
    assert master.to_bytes().hex() not in str(caught.value)


def test_wrong_master_key_with_a_forged_key_id_fails(master: MasterKey) -> None:
    record = seal(master, b"secret", associated_data=AAD)
    other = MasterKey.generate()
    forged = dataclasses.replace(record, key_id=other.key_id)
    with pytest.raises(CryptoError, match="could not be decrypted"):
        open_sealed(other, forged, associated_data=AAD)


def test_wrong_associated_data_fails(master: MasterKey) -> None:
    record = seal(master, b"secret", associated_data=b"children:42")
    with pytest.raises(CryptoError, match="could not be decrypted"):
        open_sealed(master, record, associated_data=b"children:43")


def test_empty_associated_data_is_refused(master: MasterKey) -> None:
    with pytest.raises(CryptoError, match="associated data"):
        seal(master, b"secret", associated_data=b"")


def test_rewrap_moves_a_record_to_a_new_key(master: MasterKey) -> None:
    record = seal(master, b"secret", associated_data=AAD)
    new = MasterKey.generate()
    moved = rewrap(master, new, record, associated_data=AAD)
    assert moved.key_id == new.key_id
    assert moved.ciphertext == record.ciphertext
    assert open_sealed(new, moved, associated_data=AAD) == b"secret"
    with pytest.raises(CryptoError):
        open_sealed(master, moved, associated_data=AAD)


def test_rewrap_refuses_a_tampered_record(master: MasterKey) -> None:
    record = seal(master, b"secret", associated_data=AAD)
    tampered = dataclasses.replace(record, ciphertext=_flip(record.ciphertext))
    with pytest.raises(CryptoError):
        rewrap(master, MasterKey.generate(), tampered, associated_data=AAD)


def test_json_round_trip_is_canonical(master: MasterKey) -> None:
    payload = {"given_name": "Ștefan", "birth_date": "2015-03-01", "n": [1, 2]}
    record = seal_json(master, payload, associated_data=AAD)
    assert open_json(master, record, associated_data=AAD) == payload
    reordered = dict(reversed(payload.items()))
    again = seal_json(master, reordered, associated_data=AAD)
    assert open_sealed(master, again, associated_data=AAD) == open_sealed(
        master, record, associated_data=AAD
    )
    assert open_sealed(master, record, associated_data=AAD).startswith(b'{"birth_date":')


@pytest.mark.parametrize("payload", [{"when": object()}, {"x": float("nan")}, [1, 2]])
def test_json_refuses_what_it_cannot_store(master: MasterKey, payload: object) -> None:
    with pytest.raises(InputError):
        seal_json(master, payload, associated_data=AAD)  # type: ignore[arg-type]


def test_open_json_refuses_a_non_object(master: MasterKey) -> None:
    record = seal(master, b"[1, 2]", associated_data=AAD)
    with pytest.raises(CryptoError, match="JSON object"):
        open_json(master, record, associated_data=AAD)


@pytest.mark.parametrize(
    "stored",
    [b"", b"XYZ\x01", b"TSR\x02\x00\x00\x00\x00\x00\x00\x00\x00", b"TSR\x01\x08abc"],
)
def test_malformed_storage_is_refused(stored: bytes) -> None:
    with pytest.raises(CryptoError):
        SealedRecord.from_bytes(stored)


def test_trailing_bytes_are_refused(master: MasterKey) -> None:
    stored = seal(master, b"secret", associated_data=AAD).to_bytes()
    with pytest.raises(CryptoError, match="malformed"):
        SealedRecord.from_bytes(stored + b"\x00")


def test_master_key_never_shows_its_bytes(master: MasterKey) -> None:
    secret = master.to_bytes().hex()
    for text in (repr(master), str(master), f"{master}", repr([master])):
        assert secret not in text
        assert master.key_id in text


def test_master_key_id_tells_keys_apart() -> None:
    key = bytes(range(32))
    assert MasterKey.from_bytes(key).key_id == MasterKey.from_bytes(key).key_id
    assert MasterKey.from_bytes(key) == MasterKey.from_bytes(key)
    assert len(MasterKey.generate().key_id) == 8
    assert MasterKey.generate().key_id != MasterKey.generate().key_id


@pytest.mark.parametrize("raw", [b"", b"\x00" * 31, b"\x00" * 33])
def test_master_key_must_be_32_bytes(raw: bytes) -> None:
    with pytest.raises(CryptoError, match="32 bytes"):
        MasterKey.from_bytes(raw)
