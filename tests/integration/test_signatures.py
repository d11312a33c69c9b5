"""Guardians' EIP-712 signed decisions (decideBySig) and the parity of the Python digest."""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_client.contracts.reverts import (
    CrossingLedgerAlreadyDecided,
    CrossingLedgerInvalidSignature,
    CrossingLedgerNotGuardian,
    CrossingLedgerRequestNotPending,
    CrossingLedgerSignatureExpired,
)
from ledger_client.contracts.typed_data import (
    DECISION_TYPES,
    DOMAIN_NAME,
    DOMAIN_VERSION,
    decision_digest,
    decision_message,
)
from ledger_client.contracts.types import RequestId, RequestStatus
from ledger_client.keys import to_high_s
from tests.integration.contract_helpers import (
    ALL,
    Between,
    Desk,
    assert_events,
    guardian_decided,
    reverts,
)

UINT64 = st.integers(min_value=0, max_value=2**64 - 1)
UINT256 = st.integers(min_value=0, max_value=2**256 - 1)
ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())


def test_a_relayed_signed_approval_approves(desk: Desk) -> None:
    child = desk.register(2)
    guardian = child.guardians[1]
    request_id = desk.request(child)
    deadline, signature = desk.sign(guardian, request_id, True)
    receipt = desk.relayer.transact(
        desk.ledger.decide_by_sig(request_id, guardian.address, True, deadline, signature)
    )
    assert_events(
        desk.ledger,
        receipt,
        guardian_decided(request_id, guardian.address, True, True, RequestStatus.APPROVED),
    )
    state = desk.ledger.get_request(request_id)
    assert (state.status, state.approvals, state.guardian_approved) == (
        RequestStatus.APPROVED,
        1,
        True,
    )


def test_a_relayed_signed_denial_denies(desk: Desk) -> None:
    child = desk.register(2)
    guardian = child.guardians[0]
    request_id = desk.request(child)
    receipt = desk.relay(guardian, request_id, False)
    assert_events(
        desk.ledger,
        receipt,
        guardian_decided(request_id, guardian.address, False, True, RequestStatus.DENIED),
    )
    assert desk.ledger.get_request(request_id).status is RequestStatus.DENIED


def test_a_replayed_signature_that_left_the_request_pending_is_refused(desk: Desk) -> None:
    child = desk.register(2, ALL)
    guardian = child.guardians[0]
    request_id = desk.request(child)
    deadline, signature = desk.sign(guardian, request_id, True)
    call = desk.ledger.decide_by_sig(request_id, guardian.address, True, deadline, signature)
    receipt = desk.relayer.transact(call)
    assert_events(
        desk.ledger,
        receipt,
        guardian_decided(request_id, guardian.address, True, True, RequestStatus.PENDING),
    )
    with reverts(CrossingLedgerAlreadyDecided, requestId=request_id, account=guardian.address):
        desk.relayer.transact(call)
    # Nor can the guardian decide again directly, the other way.
    desk.fund(guardian.address)
    with reverts(CrossingLedgerAlreadyDecided, requestId=request_id, account=guardian.address):
        desk.sender(guardian.signer).transact(desk.ledger.decide(request_id, False))
    state = desk.ledger.get_request(request_id)
    assert (state.status, state.approvals) == (RequestStatus.PENDING, 1)


@pytest.mark.parametrize(
    ("approve", "status"), [(True, RequestStatus.APPROVED), (False, RequestStatus.DENIED)]
)
def test_a_replayed_final_signature_is_refused(
    desk: Desk, approve: bool, status: RequestStatus
) -> None:
    child = desk.register(2)
    guardian = child.guardians[0]
    request_id = desk.request(child)
    deadline, signature = desk.sign(guardian, request_id, approve)
    call = desk.ledger.decide_by_sig(request_id, guardian.address, approve, deadline, signature)
    desk.relayer.transact(call)
    with reverts(CrossingLedgerRequestNotPending, requestId=request_id, status=status):
        desk.relayer.transact(call)
    state = desk.ledger.get_request(request_id)
    assert (state.status, state.approvals) == (status, int(approve))


def test_forged_or_misdirected_signatures_are_refused(desk: Desk) -> None:
    """Each tampered signature is refused as not the guardian's; the request stays untouched."""
    child = desk.register(2)
    guardian, other_guardian = child.guardians
    request_id = desk.request(child)
    other_request = desk.request(child)
    stranger = desk.guardian()
    deadline = desk.now() + 600
    good = desk.sign(guardian, request_id, True, deadline=deadline)[1]
    tampered = {
        "wrong chain id": desk.sign(
            guardian, request_id, True, deadline=deadline, chain_id=desk.tutela.chain_id + 1
        )[1],
        "wrong verifying contract": desk.sign(
            guardian, request_id, True, deadline=deadline, ledger_address=desk.registry.address
        )[1],
        "another request": desk.sign(guardian, other_request, True, deadline=deadline)[1],
        "a stranger's key": desk.sign(
            guardian, request_id, True, deadline=deadline, signer=stranger.signer
        )[1],
        "another guardian's key": desk.sign(
            guardian, request_id, True, deadline=deadline, signer=other_guardian.signer
        )[1],
        "another deadline": desk.sign(guardian, request_id, True, deadline=deadline + 1)[1],
        "malleable high s": to_high_s(good),
        "64 bytes, truncated": good[:64],
        "64 bytes, EIP-2098 compact": compact(good),
        "empty": b"",
    }
    for name, signature in tampered.items():
        with reverts(
            CrossingLedgerInvalidSignature, requestId=request_id, guardian=guardian.address
        ):
            desk.relayer.transact(
                desk.ledger.decide_by_sig(request_id, guardian.address, True, deadline, signature)
            )
        assert desk.ledger.get_request(request_id).status is RequestStatus.PENDING, name
    # An approval submitted as a denial: the signature binds the decision.
    with reverts(CrossingLedgerInvalidSignature, requestId=request_id, guardian=guardian.address):
        desk.relayer.transact(
            desk.ledger.decide_by_sig(request_id, guardian.address, False, deadline, good)
        )
    # The same signature claimed for the other guardian.
    with reverts(
        CrossingLedgerInvalidSignature, requestId=request_id, guardian=other_guardian.address
    ):
        desk.relayer.transact(
            desk.ledger.decide_by_sig(request_id, other_guardian.address, True, deadline, good)
        )
    state = desk.ledger.get_request(request_id)
    assert (state.status, state.approvals, state.guardian_approved) == (
        RequestStatus.PENDING,
        0,
        False,
    )
    # The untampered signature still works: the refusals consumed nothing.
    receipt = desk.relayer.transact(
        desk.ledger.decide_by_sig(request_id, guardian.address, True, deadline, good)
    )
    assert_events(
        desk.ledger,
        receipt,
        guardian_decided(request_id, guardian.address, True, True, RequestStatus.APPROVED),
    )


def test_a_valid_signature_of_someone_who_is_no_guardian_is_refused(desk: Desk) -> None:
    child = desk.register(1)
    request_id = desk.request(child)
    stranger = desk.guardian()
    with reverts(CrossingLedgerNotGuardian, requestId=request_id, account=stranger.address):
        desk.relay(stranger, request_id, True)


def test_a_signature_past_its_deadline_is_refused(desk: Desk) -> None:
    child = desk.register(1)
    guardian = child.guardians[0]
    request_id = desk.request(child)
    deadline, signature = desk.sign(guardian, request_id, True, deadline=desk.now() + 60)
    desk.advance_past(deadline)
    now = desk.now()
    with reverts(
        CrossingLedgerSignatureExpired, deadline=deadline, currentTime=Between(now, now + 30)
    ):
        desk.relayer.transact(
            desk.ledger.decide_by_sig(request_id, guardian.address, True, deadline, signature)
        )
    # The deadline is checked first: an expired forgery is refused as expired, too.
    with reverts(
        CrossingLedgerSignatureExpired, deadline=deadline, currentTime=Between(now, now + 30)
    ):
        desk.relayer.transact(
            desk.ledger.decide_by_sig(request_id, guardian.address, False, deadline, b"")
        )
    assert desk.ledger.get_request(request_id).status is RequestStatus.PENDING


def compact(signature: bytes) -> bytes:
    """The EIP-2098 64-byte form of a 65-byte signature: ``r || (v - 27) << 255 | s``."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    y_parity = v - 27 if v >= 27 else v
    return r + ((y_parity << 255) | s).to_bytes(32, "big")


# ---- EIP-712 parity --------------------------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(request_id=UINT64, guardian=ADDRESSES, approve=st.booleans(), deadline=UINT256)
def test_the_python_digest_equals_the_contracts(
    desk: Desk, request_id: int, guardian: str, approve: bool, deadline: int
) -> None:
    message = decision_message(
        chain_id=desk.tutela.chain_id,
        ledger_address=desk.ledger.address,
        request_id=request_id,
        guardian=guardian,
        approve=approve,
        deadline=deadline,
    )
    checksummed = desk.w3.to_checksum_address(guardian)
    on_chain = desk.ledger.decision_digest(RequestId(request_id), checksummed, approve, deadline)
    assert decision_digest(message) == on_chain
    # Any change of the decision gives another digest.
    assert (
        desk.ledger.decision_digest(RequestId(request_id), checksummed, not approve, deadline)
        != on_chain
    )


def test_the_contracts_domain_and_type_hash_are_the_pythons(desk: Desk) -> None:
    fields, name, version, chain_id, verifying_contract, salt, extensions = (
        desk.ledger.contract.functions.eip712Domain().call()
    )
    python = decision_message(
        chain_id=desk.tutela.chain_id,
        ledger_address=desk.ledger.address,
        request_id=1,
        guardian=desk.relayer.address,
        approve=True,
        deadline=1,
    )["domain"]
    assert {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": verifying_contract,
    } == python
    assert (name, version) == (DOMAIN_NAME, DOMAIN_VERSION)
    assert chain_id == desk.w3.eth.chain_id
    # Exactly name, version, chainId and verifyingContract: no salt, no extensions.
    assert (fields, salt, extensions) == (b"\x0f", bytes(32), [])
    fields_text = ",".join(f"{f['type']} {f['name']}" for f in DECISION_TYPES["Decision"])
    type_hash = keccak(text=f"Decision({fields_text})")
    assert desk.ledger.contract.functions.DECISION_TYPEHASH().call() == type_hash
