"""The crossing state machine: policies, denials, the family rule, protection, overrides, expiry."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_utils.crypto import keccak

from ledger_client.contracts.reverts import (
    CrossingLedgerAlreadyDecided,
    CrossingLedgerChildNotActive,
    CrossingLedgerInvalidCourtOrder,
    CrossingLedgerInvalidExpiry,
    CrossingLedgerNoApprovalNeeded,
    CrossingLedgerNotApproved,
    CrossingLedgerRequestClosed,
    CrossingLedgerRequestExpired,
    CrossingLedgerRequestNotPending,
    CrossingLedgerRulesChanged,
    CrossingLedgerUnknownRequest,
)
from ledger_client.contracts.types import (
    ChildId,
    ChildStatus,
    Direction,
    Outcome,
    PolicyKind,
    RequestId,
    RequestStatus,
    RevocationReason,
)
from ledger_client.contracts.wrappers import Policy, RequestState
from tests.integration.contract_helpers import (
    ALL,
    APPROVED,
    BORDER_POINT,
    CROSSED,
    DENIED,
    EXPIRED,
    HOUR,
    MAX_REQUEST_LIFETIME,
    OVERRIDDEN,
    PENDING,
    TURNED_BACK,
    ZERO32,
    Between,
    Desk,
    assert_events,
    each_reverts,
    requested,
    reverts,
)

COURT_ORDER = keccak(text="Tribunalul Maramures 1234/2024")
TWO_OF_THREE = Policy(PolicyKind.K_OF_N, 2)


def opened(
    request_id: int, child_id: bytes, direction: Direction, status: RequestStatus, expires_at: int
) -> RequestState:
    """A request as it stands when opened: no approval, no decision, no family rule."""
    no_decision = (0, False, False, False)
    return RequestState(
        RequestId(request_id), ChildId(child_id), direction, status, expires_at, *no_decision
    )


# ---- policies and denials --------------------------------------------------------------------


def test_any_policy_one_approval_approves_and_the_child_crosses(desk: Desk) -> None:
    child = desk.register(3)
    companion = keccak(text="an aunt's passport")
    expires_at = desk.now() + HOUR
    call = desk.ledger.request_crossing(
        child.child_id, Direction.EXIT, BORDER_POINT, companion, expires_at
    )
    receipt = desk.officer.transact(call)
    request_id = desk.ledger.request_id_from(receipt)
    expected = requested(desk, request_id, child, Direction.EXIT, companion, expires_at)
    assert_events(desk.ledger, receipt, expected)
    state = opened(request_id, child.child_id, Direction.EXIT, PENDING, expires_at)
    assert desk.ledger.get_request(request_id) == state
    with reverts(CrossingLedgerNotApproved, requestId=request_id, status=PENDING):
        desk.record(child, request_id)
    assert desk.decide(child.guardians[2], request_id, True) == (True, APPROVED)
    approved = replace(state, status=APPROVED, approvals=1, guardian_approved=True)
    assert desk.ledger.get_request(request_id) == approved
    # Once approved, the other guardians' decisions are refused.
    with reverts(CrossingLedgerRequestNotPending, requestId=request_id, status=APPROVED):
        desk.decide(child.guardians[0], request_id, False)
    desk.record(child, request_id)
    assert desk.status(request_id) is CROSSED


def test_all_policy_needs_every_current_guardian(desk: Desk) -> None:
    child = desk.register(2, ALL)
    request_id = desk.request(child)
    assert desk.decide(child.guardians[0], request_id, True) == (True, PENDING)
    assert desk.ledger.get_request(request_id).approvals == 1
    assert desk.decide(child.guardians[1], request_id, True) == (True, APPROVED)
    assert desk.ledger.get_request(request_id).approvals == 2


def test_two_of_three_needs_two_guardians(desk: Desk) -> None:
    child = desk.register(3, TWO_OF_THREE)
    request_id = desk.request(child)
    first, second, third = child.guardians
    assert desk.decide(second, request_id, True) == (True, PENDING)
    with reverts(CrossingLedgerAlreadyDecided, requestId=request_id, account=second.address):
        desk.decide(second, request_id, True)
    assert desk.decide(third, request_id, True) == (True, APPROVED)
    with reverts(CrossingLedgerRequestNotPending, requestId=request_id, status=APPROVED):
        desk.decide(first, request_id, True)
    assert desk.ledger.get_request(request_id).approvals == 2


def test_a_guardian_whose_account_was_replaced_does_not_approve_twice(desk: Desk) -> None:
    """A new account keeps the guardian's document: the pending request takes no decision."""
    child = desk.register(2, ALL)
    first, second = child.guardians
    request_id = desk.request(child)
    assert desk.decide(first, request_id, True) == (True, PENDING)
    replacement = desk.guardian()
    desk.registrar.transact(
        desk.registry.replace_guardian_account(child.child_id, first.address, replacement.address)
    )
    for guardian in (replacement, second):
        with reverts(CrossingLedgerRulesChanged, requestId=request_id):
            desk.decide(guardian, request_id, True)
    assert desk.status(request_id) is PENDING
    # Asked again, under the new account, each guardian decides once.
    again = desk.request(child)
    assert desk.decide(replacement, again, True) == (True, PENDING)
    assert desk.decide(second, again, True) == (True, APPROVED)


@pytest.mark.parametrize("change", ["remove", "add", "policy"])
def test_a_change_of_guardians_or_policy_voids_pending_decisions(desk: Desk, change: str) -> None:
    """Old approvals are never counted against new guardians or a new policy."""
    child = desk.register(3, ALL)
    first, second, _ = child.guardians
    request_id = desk.request(child)
    assert desk.decide(first, request_id, True) == (True, PENDING)
    if change == "remove":
        desk.registrar.transact(desk.registry.remove_guardian(child.child_id, first.address))
    elif change == "add":
        newcomer = desk.guardian()
        desk.registrar.transact(desk.registry.add_guardian(child.child_id, newcomer.key))
    else:
        desk.registrar.transact(desk.registry.set_policy(child.child_id, Policy(PolicyKind.ANY)))
    with reverts(CrossingLedgerRulesChanged, requestId=request_id):
        desk.decide(second, request_id, True)
    with reverts(CrossingLedgerRulesChanged, requestId=request_id):
        desk.protect(request_id, True)
    assert desk.ledger.get_request(request_id).approvals == 1


@pytest.mark.parametrize("denier", ["guardian", "child protection"])
def test_a_denial_is_final(desk: Desk, denier: str) -> None:
    child = desk.register(3, TWO_OF_THREE)
    request_id = desk.request(child)
    first, second, third = child.guardians
    assert desk.decide(first, request_id, True) == (True, PENDING)
    if denier == "guardian":
        assert desk.decide(second, request_id, False) == (True, DENIED)
    else:
        assert desk.protect(request_id, False) is DENIED
    denied = {"requestId": request_id, "status": DENIED}
    each_reverts(
        CrossingLedgerRequestNotPending,
        denied,
        lambda: desk.decide(first, request_id, True),
        lambda: desk.decide(third, request_id, True),
        lambda: desk.relay(third, request_id, True),
        lambda: desk.protect(request_id, True),
    )
    with reverts(CrossingLedgerNotApproved, **denied):
        desk.record(child, request_id)
    assert (desk.status(request_id), desk.ledger.get_request(request_id).approvals) == (DENIED, 1)
    desk.record(child, request_id, Outcome.TURNED_BACK)
    assert desk.status(request_id) is TURNED_BACK


# ---- the family rule -------------------------------------------------------------------------


@pytest.mark.parametrize("second_approver", ["other guardian", "child protection"])
def test_the_travelling_guardians_approval_is_set_aside(desk: Desk, second_approver: str) -> None:
    child = desk.register(2)
    father, mother = child.guardians
    request_id = desk.request(child, companion=father.document)
    assert desk.decide(father, request_id, True) == (False, PENDING)
    state = desk.ledger.get_request(request_id)
    assert (state.status, state.approvals, state.guardian_approved) == (PENDING, 0, True)
    assert state.family_rule_applied
    with reverts(CrossingLedgerNotApproved, requestId=request_id, status=PENDING):
        desk.record(child, request_id)
    with reverts(CrossingLedgerAlreadyDecided, requestId=request_id, account=father.address):
        desk.decide(father, request_id, True)
    if second_approver == "other guardian":
        assert desk.decide(mother, request_id, True) == (True, APPROVED)
    else:
        assert desk.protect(request_id, True) is APPROVED
    state = desk.ledger.get_request(request_id)
    assert (state.status, state.approvals, state.family_rule_applied) == (APPROVED, 1, True)
    desk.record(child, request_id)


def test_a_single_guardian_travelling_with_the_child_needs_child_protection(desk: Desk) -> None:
    child = desk.register(1)
    request_id = desk.request(child, companion=child.guardians[0].document)
    assert desk.decide(child.guardians[0], request_id, True) == (False, PENDING)
    with reverts(CrossingLedgerNotApproved, requestId=request_id, status=PENDING):
        desk.record(child, request_id)
    assert desk.protect(request_id, True) is APPROVED
    desk.record(child, request_id)


def test_the_family_rule_holds_for_any_equal_commitment(desk: Desk) -> None:
    """Equal commitments are always caught (CrossingLedger `_decide`), whatever their bytes."""
    document = bytes(8) + keccak(text="a document whose commitment starts with 8 zero bytes")[8:]
    guardian = desk.guardian(document=document)
    child = desk.register([guardian, desk.guardian()])
    request_id = desk.request(child, companion=document)
    assert desk.decide(guardian, request_id, True) == (False, PENDING)


# ---- child protection and court orders -------------------------------------------------------


def test_protection_alone_does_not_approve_and_decides_once(desk: Desk) -> None:
    child = desk.register(2)
    request_id = desk.request(child)
    assert desk.protect(request_id, True) is PENDING
    state = desk.ledger.get_request(request_id)
    assert (state.status, state.approvals, state.guardian_approved) == (PENDING, 1, False)
    assert state.protection_decided
    with reverts(
        CrossingLedgerAlreadyDecided, requestId=request_id, account=desk.protector.address
    ):
        desk.protect(request_id, False)
    # Once per request, whichever officer: a second officer is refused as well.
    colleague = desk.guardian(funded=True)
    desk.admin.transact(desk.ledger.grant_role("CHILD_PROTECTION_ROLE", colleague.address))
    with reverts(CrossingLedgerAlreadyDecided, requestId=request_id, account=colleague.address):
        desk.sender(colleague.signer).transact(desk.ledger.protection_decide(request_id, True))
    desk.admin.transact(desk.ledger.revoke_role("CHILD_PROTECTION_ROLE", colleague.address))
    assert desk.decide(child.guardians[0], request_id, True) == (True, APPROVED)
    assert desk.ledger.get_request(request_id).approvals == 2


@pytest.mark.parametrize("start", ["pending", "denied"])
def test_a_court_order_overrides_a_pending_or_denied_request(desk: Desk, start: str) -> None:
    child = desk.register(2)
    request_id = desk.request(child)
    if start == "denied":
        desk.decide(child.guardians[0], request_id, False)
    with reverts(CrossingLedgerInvalidCourtOrder, requestId=request_id):
        desk.override(request_id, ZERO32)
    desk.override(request_id, COURT_ORDER)
    assert desk.status(request_id) is OVERRIDDEN
    each_reverts(
        CrossingLedgerRequestNotPending,
        {"requestId": request_id, "status": OVERRIDDEN},
        lambda: desk.override(request_id, COURT_ORDER),
        lambda: desk.relay(child.guardians[1], request_id, False),
        lambda: desk.protect(request_id, False),
    )
    desk.record(child, request_id)
    assert desk.status(request_id) is CROSSED


def test_a_court_order_cannot_override_an_approved_or_closed_request(desk: Desk) -> None:
    child = desk.register(1)
    request_id = desk.request(child)
    desk.decide(child.guardians[0], request_id, True)
    with reverts(CrossingLedgerRequestNotPending, requestId=request_id, status=APPROVED):
        desk.override(request_id, COURT_ORDER)
    desk.record(child, request_id, Outcome.TURNED_BACK)
    with reverts(CrossingLedgerRequestNotPending, requestId=request_id, status=TURNED_BACK):
        desk.override(request_id, COURT_ORDER)


# ---- expiry ----------------------------------------------------------------------------------


def test_an_expired_request_takes_no_decision_override_or_crossing(desk: Desk) -> None:
    child = desk.register(2)
    guardian = child.guardians[1]
    pending, approved, denied, overridden = (desk.request(child, lifetime=600) for _ in range(4))
    desk.decide(child.guardians[0], approved, True)
    desk.decide(child.guardians[0], denied, False)
    desk.override(overridden, COURT_ORDER)
    deadline, signature = desk.sign(guardian, pending, True, deadline=desk.now() + 3 * HOUR)
    desk.advance_past(
        max(desk.ledger.get_request(r).expires_at for r in (pending, approved, overridden))
    )
    assert [desk.status(r) for r in (pending, approved, denied, overridden)] == [
        EXPIRED,
        EXPIRED,
        DENIED,  # a final decision stays what it is
        OVERRIDDEN,  # the NatSpec derives `Expired` only from pending and approved
    ]
    relayed = desk.ledger.decide_by_sig(pending, guardian.address, True, deadline, signature)
    each_reverts(
        CrossingLedgerRequestExpired,
        {"requestId": pending, "expiresAt": desk.ledger.get_request(pending).expires_at},
        lambda: desk.decide(guardian, pending, True),
        lambda: desk.relayer.transact(relayed),
        lambda: desk.protect(pending, True),
        lambda: desk.override(pending, COURT_ORDER),
    )
    for request_id in (approved, overridden):
        expires_at = desk.ledger.get_request(request_id).expires_at
        with reverts(CrossingLedgerRequestExpired, requestId=request_id, expiresAt=expires_at):
            desk.record(child, request_id)
    # Turning back stays allowed: it is the safe outcome.
    for request_id in (pending, approved, denied, overridden):
        desk.record(child, request_id, Outcome.TURNED_BACK)
        assert desk.status(request_id) is TURNED_BACK


def test_an_expiry_must_be_in_the_future_and_within_seven_days(desk: Desk) -> None:
    child = desk.register(1)
    now = desk.now()
    for expires_at in (0, now - 1, now + MAX_REQUEST_LIFETIME + 120):
        call = desk.ledger.request_crossing(
            child.child_id, Direction.EXIT, BORDER_POINT, ZERO32, expires_at
        )
        with reverts(
            CrossingLedgerInvalidExpiry, expiresAt=expires_at, currentTime=Between(now, now + 30)
        ):
            desk.officer.transact(call)
    longest = desk.request(child, lifetime=MAX_REQUEST_LIFETIME - 120)
    assert desk.status(longest) is PENDING


# ---- entries, records and unknown requests ---------------------------------------------------


def test_an_entry_starts_approved_and_takes_no_decisions(desk: Desk) -> None:
    child = desk.register(1)
    expires_at = desk.now() + HOUR
    call = desk.ledger.request_crossing(
        child.child_id, Direction.ENTRY, BORDER_POINT, ZERO32, expires_at
    )
    receipt = desk.officer.transact(call)
    request_id = desk.ledger.request_id_from(receipt)
    expected = requested(desk, request_id, child, Direction.ENTRY, ZERO32, expires_at)
    assert_events(desk.ledger, receipt, expected)
    state = opened(request_id, child.child_id, Direction.ENTRY, APPROVED, expires_at)
    assert desk.ledger.get_request(request_id) == state
    guardian = child.guardians[0]
    each_reverts(
        CrossingLedgerNoApprovalNeeded,
        {"requestId": request_id},
        lambda: desk.decide(guardian, request_id, False),
        lambda: desk.relay(guardian, request_id, False),
        lambda: desk.protect(request_id, False),
        lambda: desk.override(request_id, COURT_ORDER),
    )
    desk.record(child, request_id)
    assert desk.status(request_id) is CROSSED


def test_a_revoked_or_superseded_child_cannot_cross(desk: Desk) -> None:
    revoked = desk.register(2)
    pending, approved = desk.request(revoked), desk.request(revoked)
    desk.decide(revoked.guardians[0], approved, True)
    reason = int(RevocationReason.FRAUD)
    desk.registrar.transact(desk.registry.revoke_child(revoked.child_id, reason))
    each_reverts(
        CrossingLedgerChildNotActive,
        {"childId": revoked.child_id, "status": ChildStatus.REVOKED},
        lambda: desk.request(revoked),
        lambda: desk.relay(revoked.guardians[1], pending, True),
        lambda: desk.protect(pending, True),
        lambda: desk.override(pending, COURT_ORDER),
        lambda: desk.record(revoked, approved),
    )
    with reverts(CrossingLedgerNotApproved, requestId=pending, status=PENDING):
        desk.record(revoked, pending)
    desk.record(revoked, approved, Outcome.TURNED_BACK)

    superseded, successor = desk.register(1), desk.new_child(1)
    desk.registrar.transact(
        desk.registry.supersede_child(superseded.child_id, *successor.as_input())
    )
    with reverts(
        CrossingLedgerChildNotActive, childId=superseded.child_id, status=ChildStatus.SUPERSEDED
    ):
        desk.request(superseded)
    assert desk.status(desk.request(successor)) is PENDING


def test_an_unknown_child_cannot_cross(desk: Desk) -> None:
    unknown = desk.new_child(1)
    with reverts(CrossingLedgerChildNotActive, childId=unknown.child_id, status=ChildStatus.NONE):
        desk.request(unknown)
    zero = ChildId(bytes(16))
    call = desk.ledger.request_crossing(
        zero, Direction.ENTRY, BORDER_POINT, ZERO32, desk.now() + 60
    )
    with reverts(CrossingLedgerChildNotActive, childId=zero, status=ChildStatus.NONE):
        desk.officer.transact(call)


@pytest.mark.parametrize("which", ["zero", "never issued", "largest"])
def test_an_unknown_request_is_refused_everywhere(desk: Desk, which: str) -> None:
    child = desk.register(1)
    guardian = child.guardians[0]
    upcoming = int(desk.ledger.contract.functions.nextRequestId().call())
    request_id = {"zero": 0, "never issued": upcoming + 1000, "largest": 2**64 - 1}[which]
    each_reverts(
        CrossingLedgerUnknownRequest,
        {"requestId": request_id},
        lambda: desk.ledger.get_request(RequestId(request_id)),
        lambda: desk.decide(guardian, request_id, True),
        lambda: desk.relay(guardian, request_id, True),
        lambda: desk.protect(request_id, True),
        lambda: desk.override(request_id, COURT_ORDER),
        lambda: desk.record(child, request_id, Outcome.CROSSED),
        lambda: desk.record(child, request_id, Outcome.TURNED_BACK),
    )


def test_an_outcome_is_recorded_once(desk: Desk) -> None:
    child = desk.register(1)
    crossed, turned_back = desk.request(child, direction=Direction.ENTRY), desk.request(child)
    desk.record(child, crossed)
    desk.record(child, turned_back, Outcome.TURNED_BACK)
    for request_id, status in ((crossed, CROSSED), (turned_back, TURNED_BACK)):
        for outcome in Outcome:
            with reverts(CrossingLedgerRequestClosed, requestId=request_id, status=status):
                desk.record(child, request_id, outcome)
        assert desk.status(request_id) == status
    with reverts(CrossingLedgerRequestNotPending, requestId=turned_back, status=TURNED_BACK):
        desk.relay(child.guardians[0], turned_back, True)
