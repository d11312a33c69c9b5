"""No personal data on the chain, ever: not in a transaction, a log, or the chain's database."""

from __future__ import annotations

import hashlib
from pathlib import Path

from eth_utils.crypto import keccak

from ledger_client.services import children, crossings, guardians
from tests.conftest import World

CHILDREN = [
    ("Maria", "Popescu", "2016-04-12", "Chișinău", "Ion Popescu;MD-0912-3345;ion@example.org"),
    ("Andrei", "Rusu", "2019-11-30", "Bălți", "Vera Rusu;AB 778 120;vera.rusu@example.org"),
]
COMPANION = ("Sergiu Ceban", "XZ9912001")
# Not personal data, but secrets that must never reach the chain nor sit in the store in clear.
PASSWORD = "a quiet river bend at dawn"
PIN = "582904"


def _needles(secrets: set[str]) -> list[bytes]:
    texts: set[str] = set(secrets)
    for given, family, birth, place, guardian in CHILDREN:
        name, document, email = guardian.split(";")
        year, month, day = birth.split("-")
        texts |= {given, family, f"{given} {family}", birth, f"{day}.{month}.{year}", place}
        texts |= {name, document, document.replace("-", "").replace(" ", ""), email}
    texts |= set(COMPANION)
    needles: list[bytes] = []
    for text in texts:
        for variant in {text, text.lower(), text.upper()}:
            raw = variant.encode()
            needles += [raw, keccak(raw), hashlib.sha256(raw).digest()]
    return needles


def _enrol_and_cross(world: World) -> tuple[list[children.ChildView], set[str]]:
    """Each guardian decides: the first with the password and PIN they chose on activation,
    the second with their activation code. Returns the children and those secrets."""
    tutela = world.tutela
    enrolled = []
    secrets = {PASSWORD, PIN}
    for given, family, birth, place, guardian in CHILDREN:
        child = children.enrol_child(
            tutela,
            given_name=given,
            family_name=family,
            birth_date=birth,
            birth_place=place,
            guardian_specs=[guardian],
        )
        enrolled.append(child)
        (code,) = child.activation_codes
        secrets |= {code.code, code.code.replace("-", "")}
        if len(enrolled) == 1:
            guardians.activate_guardian(
                tutela, document=code.document, code=code.code, password=PASSWORD, pin=PIN
            )
            secret = PIN
        else:
            secret = code.code
        request = crossings.request_crossing(
            tutela,
            child.card,
            direction="exit",
            border_point="MD-LEUSENI",
            companion_name=COMPANION[0],
            companion_document=COMPANION[1],
        )
        document = guardian.split(";")[1]
        crossings.decide_as_guardian(
            tutela, str(request.request), guardian_document=document, approve=True, secret=secret
        )
        crossings.record_outcome(tutela, str(request.request), outcome="crossed")
    return enrolled, secrets


def _chain_bytes(world: World) -> list[tuple[str, bytes]]:
    """Every transaction input and every log (topics and data) from genesis to the head."""
    w3 = world.tutela.w3
    found: list[tuple[str, bytes]] = []
    for number in range(w3.eth.block_number + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            assert not isinstance(tx, bytes)
            found.append((f"input of {tx['hash'].to_0x_hex()}", bytes(tx["input"])))
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            for log in receipt["logs"]:
                raw = b"".join(bytes(t) for t in log["topics"]) + bytes(log["data"])
                found.append((f"log {log['logIndex']} of {tx['hash'].to_0x_hex()}", raw))
    return found


def test_chain_history_holds_no_personal_data(world: World) -> None:
    enrolled, secrets = _enrol_and_cross(world)
    scanned = _chain_bytes(world)
    # A positive control: the scan does see what the chain should hold, the opaque ids.
    for child in enrolled:
        child_id = bytes.fromhex(child.child_id.removeprefix("0x"))
        assert any(child_id in raw for _, raw in scanned)
    needles = _needles(secrets)
    for where, raw in scanned:
        for needle in needles:
            assert needle not in raw, f"personal data found in {where}"


def test_chain_and_store_files_hold_no_personal_data_in_clear(embedded_world: World) -> None:
    enrolled, secrets = _enrol_and_cross(embedded_world)
    folder: Path = embedded_world.settings.data_dir
    files = [folder / "chain.sqlite3", folder / "tutela.sqlite3"]
    files += [p for p in folder.glob("*.sqlite3-wal")]
    for path in files:
        content = path.read_bytes()
        for needle in _needles(secrets):
            assert needle not in content, f"personal data found in {path.name}"
    # A positive control: card numbers are not personal data and sit in the store in clear.
    cards = [child.card.replace("-", "").encode() for child in enrolled]
    assert all(any(card in path.read_bytes() for path in files) for card in cards)
