"""The Python revert classes and the contracts' ABIs cannot drift apart."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode

from ledger_client.contracts.artifacts import CONTRACT_NAMES, load_artifact
from ledger_client.contracts.reverts import (
    REVERT_CLASSES,
    CrossingLedgerRequestNotPending,
    decode_revert,
)
from ledger_client.errors import ContractRevertError

ZERO_VALUES: dict[str, object] = {
    "address": "0x" + "00" * 20,
    "bytes16": b"\0" * 16,
    "bytes32": b"\0" * 32,
    "string": "",
}


def _abi_errors() -> dict[str, tuple[str, ...]]:
    errors: dict[str, tuple[str, ...]] = {}
    for name in CONTRACT_NAMES:
        for entry in load_artifact(name).abi:
            if entry["type"] == "error":
                types = ",".join(i["type"] for i in entry["inputs"])
                errors[f"{entry['name']}({types})"] = tuple(i["name"] for i in entry["inputs"])
    return errors


def test_every_abi_error_has_its_class_with_the_same_argument_names() -> None:
    classes = {cls.signature: cls.argument_names for cls in REVERT_CLASSES.values()}
    assert classes == _abi_errors()


@pytest.mark.parametrize("signature", sorted(_abi_errors()))
def test_each_message_formats_with_zero_arguments(signature: str) -> None:
    cls = next(c for c in REVERT_CLASSES.values() if c.signature == signature)
    types = signature[signature.index("(") + 1 : -1].split(",") if cls.argument_names else []
    zeros = [ZERO_VALUES.get(t, 0) for t in types]
    error = decode_revert(bytes.fromhex(cls.selector[2:]) + encode(types, zeros))
    assert type(error) is cls
    assert str(error)
    assert "{" not in str(error)


def test_decoding_names_the_status_and_keeps_the_arguments() -> None:
    data = bytes.fromhex(CrossingLedgerRequestNotPending.selector[2:]) + encode(
        ["uint64", "uint8"], [7, 3]
    )
    error = decode_revert("0x" + data.hex(), tx_hash="0xabc")
    assert isinstance(error, CrossingLedgerRequestNotPending)
    assert error.arguments == {"requestId": 7, "status": 3}
    assert str(error) == "crossing request 7 is denied: it takes no more decisions"
    assert error.tx_hash == "0xabc"


def test_unknown_selectors_and_reason_strings_still_say_something() -> None:
    reason = bytes.fromhex("08c379a0") + encode(["string"], ["paused"])
    assert str(decode_revert(reason)) == "the contract refused: paused"
    unknown = decode_revert("0xdeadbeef")
    assert type(unknown) is ContractRevertError
    assert "0xdeadbeef" in str(unknown)
    assert "without a reason" in str(decode_revert(None))
