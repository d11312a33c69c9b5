"""The child registry: registration checks, guardians, policies, revocation and supersession."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from web3.types import TxReceipt

from ledger_client.contracts.reverts import (
    ChildRegistryAlreadyRegistered,
    ChildRegistryChildNotActive,
    ChildRegistryDuplicateGuardian,
    ChildRegistryInvalidChildId,
    ChildRegistryInvalidCommitment,
    ChildRegistryInvalidGuardian,
    ChildRegistryInvalidPolicy,
    ChildRegistryNotGuardian,
    ChildRegistryTooManyGuardians,
    ChildRegistryUnknownChild,
    CrossingLedgerNotGuardian,
    CrossingLedgerRulesChanged,
    CustomContractError,
)
from ledger_client.contracts.types import (
    ChildId,
    ChildStatus,
    PolicyKind,
    RequestStatus,
    RevocationReason,
)
from ledger_client.contracts.wrappers import ChildRecord, GuardianKey, Policy
from tests.integration.contract_helpers import (
    ALL,
    ANY,
    ZERO32,
    Child,
    Desk,
    Guardian,
    assert_events,
    event,
    guardian_added,
    guardian_decided,
    guardian_removed,
    registered,
    reverts,
)

ZERO_ADDRESS = "0x" + "00" * 20
MAX_GUARDIANS = 16


def k_of_n(k: int) -> Policy:
    return Policy(PolicyKind.K_OF_N, k)


def block_time(desk: Desk, receipt: TxReceipt) -> int:
    return int(desk.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def assert_stored(desk: Desk, child: Child, receipt: TxReceipt) -> None:
    """The registry holds the child as registered in ``receipt``, with each guardian's document."""
    assert desk.registry.child_record(child.child_id) == ChildRecord(
        ChildStatus.ACTIVE, child.policy, len(child.guardians), block_time(desk, receipt), 0
    )
    for guardian in child.guardians:
        assert (
            desk.registry.guardian_document(child.child_id, guardian.address) == guardian.document
        )


def status(desk: Desk, child: Child) -> ChildStatus:
    return desk.registry.child_record(child.child_id).status


# ---- registration ----------------------------------------------------------------------------


@pytest.mark.parametrize(("guardians", "policy"), [(3, k_of_n(2)), (MAX_GUARDIANS, ALL)])
def test_a_registration_emits_the_commitment_and_each_guardian(
    desk: Desk, guardians: int, policy: Policy
) -> None:
    child = desk.new_child(guardians, policy)
    receipt = desk.registrar.transact(desk.registry.register_child(*child.as_input()))
    assert_events(desk.registry, receipt, *registered(child))
    assert_stored(desk, child, receipt)
    assert desk.registry.guardian_document(child.child_id, desk.guardian().address) == ZERO32


Invalid = Callable[[Desk, Child], tuple[Child, type[CustomContractError], dict[str, Any]]]


def _with_guardians(child: Child, *guardians: Guardian) -> Child:
    return replace(child, guardians=guardians)


def _raw(account: str, document: bytes) -> Guardian:
    """A guardian entry as a careless caller could send it: any account, any document."""
    return Guardian(signer=None, key=GuardianKey(account, document))  # type: ignore[arg-type]


def refused(
    child: Child, error: type[CustomContractError], **arguments: Any
) -> tuple[Child, type[CustomContractError], dict[str, Any]]:
    return child, error, arguments


def policy_refused(child: Child, kind: PolicyKind, threshold: int, count: int) -> dict[str, Any]:
    """The arguments of ChildRegistryInvalidPolicy."""
    return {"childId": child.child_id, "kind": kind, "threshold": threshold, "guardianCount": count}


ZERO_ID = ChildId(bytes(16))
INVALID: dict[str, Invalid] = {
    "zero id": lambda d, c: refused(
        replace(c, child_id=ZERO_ID), ChildRegistryInvalidChildId, childId=ZERO_ID
    ),
    "zero commitment": lambda d, c: refused(
        replace(c, commitment=ZERO32), ChildRegistryInvalidCommitment, childId=c.child_id
    ),
    "no guardians": lambda d, c: refused(
        _with_guardians(c), ChildRegistryInvalidPolicy, **policy_refused(c, PolicyKind.ANY, 0, 0)
    ),
    "17 guardians": lambda d, c: refused(
        _with_guardians(c, *(d.guardian() for _ in range(MAX_GUARDIANS + 1))),
        ChildRegistryTooManyGuardians,
        childId=c.child_id,
        count=MAX_GUARDIANS + 1,
    ),
    "duplicate guardian": lambda d, c: refused(
        _with_guardians(c, *c.guardians, c.guardians[0]),
        ChildRegistryDuplicateGuardian,
        childId=c.child_id,
        guardian=c.guardians[0].address,
    ),
    "duplicate account, other document": lambda d, c: refused(
        _with_guardians(c, c.guardians[0], _raw(c.guardians[0].address, c.guardians[1].document)),
        ChildRegistryDuplicateGuardian,
        childId=c.child_id,
        guardian=c.guardians[0].address,
    ),
    "zero account": lambda d, c: refused(
        _with_guardians(c, c.guardians[0], _raw(ZERO_ADDRESS, c.guardians[1].document)),
        ChildRegistryInvalidGuardian,
        childId=c.child_id,
        guardian=ZERO_ADDRESS,
    ),
    "zero document": lambda d, c: refused(
        _with_guardians(c, c.guardians[0], _raw(c.guardians[1].address, ZERO32)),
        ChildRegistryInvalidGuardian,
        childId=c.child_id,
        guardian=c.guardians[1].address,
    ),
    "0-of-2": lambda d, c: refused(
        replace(c, policy=k_of_n(0)),
        ChildRegistryInvalidPolicy,
        **policy_refused(c, PolicyKind.K_OF_N, 0, 2),
    ),
    "3-of-2": lambda d, c: refused(
        replace(c, policy=k_of_n(3)),
        ChildRegistryInvalidPolicy,
        **policy_refused(c, PolicyKind.K_OF_N, 3, 2),
    ),
    "id taken": lambda d, c: refused(
        replace(c, child_id=(taken := d.register(1).child_id)),
        ChildRegistryAlreadyRegistered,
        childId=taken,
    ),
}


@pytest.mark.parametrize("path", ["registerChild", "registerChildren", "supersedeChild"])
@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_registration_is_refused(desk: Desk, case: str, path: str) -> None:
    """Every registration path runs the same checks and changes nothing when one fails."""
    child, error, arguments = INVALID[case](desk, desk.new_child(2))
    taken_before = status(desk, child)
    predecessor = desk.register(1)
    valid = (desk.new_child(1), desk.new_child(2))
    calls = {
        "registerChild": desk.registry.register_child(*child.as_input()),
        # The invalid child last: the valid ones before it are undone with it.
        "registerChildren": desk.registry.register_children(
            [valid[0].as_input(), valid[1].as_input(), child.as_input()]
        ),
        "supersedeChild": desk.registry.supersede_child(predecessor.child_id, *child.as_input()),
    }
    with reverts(error, **arguments):
        desk.registrar.transact(calls[path])
    assert status(desk, child) is taken_before
    assert [status(desk, c) for c in valid] == [ChildStatus.NONE] * 2
    assert status(desk, predecessor) is ChildStatus.ACTIVE


def test_a_batch_registers_every_child(desk: Desk) -> None:
    children = [desk.new_child(1), desk.new_child(2, ALL), desk.new_child(3, k_of_n(2))]
    receipt = desk.registrar.transact(
        desk.registry.register_children([c.as_input() for c in children])
    )
    assert_events(desk.registry, receipt, *(e for c in children for e in registered(c)))
    for child in children:
        assert_stored(desk, child, receipt)
    twice = [desk.new_child(1).as_input(), children[0].as_input()]
    with reverts(ChildRegistryAlreadyRegistered, childId=children[0].child_id):
        desk.registrar.transact(desk.registry.register_children(twice))


# ---- guardians -------------------------------------------------------------------------------


def test_adding_a_guardian(desk: Desk) -> None:
    child = desk.register(MAX_GUARDIANS - 1)
    newcomer = desk.guardian()
    refused: list[tuple[GuardianKey, type[CustomContractError], str]] = [
        (child.guardians[0].key, ChildRegistryDuplicateGuardian, child.guardians[0].address),
        (GuardianKey(ZERO_ADDRESS, newcomer.document), ChildRegistryInvalidGuardian, ZERO_ADDRESS),
        (GuardianKey(newcomer.address, ZERO32), ChildRegistryInvalidGuardian, newcomer.address),
    ]
    for key, error, guardian in refused:
        with reverts(error, childId=child.child_id, guardian=guardian):
            desk.registrar.transact(desk.registry.add_guardian(child.child_id, key))
    before = desk.registry.child_record(child.child_id)
    assert (before.guardian_count, before.revision) == (MAX_GUARDIANS - 1, 0)
    receipt = desk.registrar.transact(desk.registry.add_guardian(child.child_id, newcomer.key))
    added = guardian_added(child.child_id, newcomer.address, newcomer.document)
    assert_events(desk.registry, receipt, added)
    after = desk.registry.child_record(child.child_id)
    assert (after.guardian_count, after.revision) == (MAX_GUARDIANS, 1)
    assert desk.registry.guardian_document(child.child_id, newcomer.address) == newcomer.document
    with reverts(ChildRegistryTooManyGuardians, childId=child.child_id, count=MAX_GUARDIANS + 1):
        desk.registrar.transact(desk.registry.add_guardian(child.child_id, desk.guardian().key))
    assert desk.registry.child_record(child.child_id).guardian_count == MAX_GUARDIANS


def test_a_removed_guardian_can_no_longer_decide(desk: Desk) -> None:
    child = desk.register(2)
    leaving, staying = child.guardians
    receipt = desk.registrar.transact(
        desk.registry.remove_guardian(child.child_id, leaving.address)
    )
    assert_events(desk.registry, receipt, guardian_removed(child.child_id, leaving.address))
    assert desk.registry.child_record(child.child_id).guardian_count == 1
    assert desk.registry.guardian_document(child.child_id, leaving.address) == ZERO32
    with reverts(ChildRegistryNotGuardian, childId=child.child_id, guardian=leaving.address):
        desk.registrar.transact(desk.registry.remove_guardian(child.child_id, leaving.address))
    # The last guardian stays: with none, no policy could be met.
    with reverts(ChildRegistryInvalidPolicy, **policy_refused(child, PolicyKind.ANY, 0, 0)):
        desk.registrar.transact(desk.registry.remove_guardian(child.child_id, staying.address))
    request_id = desk.request(child)
    with reverts(CrossingLedgerNotGuardian, requestId=request_id, account=leaving.address):
        desk.relay(leaving, request_id, True)


def test_a_removal_that_would_break_a_k_of_n_policy_is_refused(desk: Desk) -> None:
    child = desk.register(3, k_of_n(3))
    with reverts(ChildRegistryInvalidPolicy, **policy_refused(child, PolicyKind.K_OF_N, 3, 2)):
        desk.registrar.transact(
            desk.registry.remove_guardian(child.child_id, child.guardians[0].address)
        )
    record = desk.registry.child_record(child.child_id)
    assert (record.guardian_count, record.policy) == (3, k_of_n(3))
    # Once the threshold is lowered the same removal goes through.
    desk.registrar.transact(desk.registry.set_policy(child.child_id, k_of_n(2)))
    desk.registrar.transact(
        desk.registry.remove_guardian(child.child_id, child.guardians[0].address)
    )
    record = desk.registry.child_record(child.child_id)
    assert (record.guardian_count, record.policy) == (2, k_of_n(2))


def test_replacing_a_guardians_account_keeps_the_document(desk: Desk) -> None:
    child = desk.register(2)
    lost, other = child.guardians
    new = desk.guardian()
    pending = desk.request(child, companion=lost.document)
    receipt = desk.registrar.transact(
        desk.registry.replace_guardian_account(child.child_id, lost.address, new.address)
    )
    assert_events(
        desk.registry,
        receipt,
        guardian_removed(child.child_id, lost.address),
        guardian_added(child.child_id, new.address, lost.document),
    )
    assert desk.registry.guardian_document(child.child_id, new.address) == lost.document
    assert desk.registry.guardian_document(child.child_id, lost.address) == ZERO32
    assert desk.registry.child_record(child.child_id).guardian_count == 2
    # The request opened before the change takes no more decisions; a new one is asked.
    with reverts(CrossingLedgerRulesChanged, requestId=pending):
        desk.relay(new, pending, True)
    again = desk.request(child, companion=lost.document)
    with reverts(CrossingLedgerNotGuardian, requestId=again, account=lost.address):
        desk.relay(lost, again, True)
    # The new account is the same guardian: travelling with the child, its approval is set aside.
    receipt = desk.relay(new, again, True)
    assert_events(
        desk.ledger,
        receipt,
        guardian_decided(again, new.address, True, False, RequestStatus.PENDING),
    )
    refused: list[tuple[str, str, type[CustomContractError], str]] = [
        (lost.address, desk.guardian().address, ChildRegistryNotGuardian, lost.address),
        (new.address, new.address, ChildRegistryDuplicateGuardian, new.address),
        (new.address, other.address, ChildRegistryDuplicateGuardian, other.address),
        (new.address, ZERO_ADDRESS, ChildRegistryInvalidGuardian, ZERO_ADDRESS),
    ]
    for old_account, new_account, error, guardian in refused:
        with reverts(error, childId=child.child_id, guardian=guardian):
            desk.registrar.transact(
                desk.registry.replace_guardian_account(child.child_id, old_account, new_account)
            )
    assert desk.registry.guardian_document(child.child_id, new.address) == lost.document


# ---- policy ----------------------------------------------------------------------------------


def test_changing_the_policy(desk: Desk) -> None:
    child = desk.register(3)
    for policy, threshold in ((k_of_n(2), 2), (ALL, 0), (k_of_n(3), 3), (ANY, 0)):
        receipt = desk.registrar.transact(desk.registry.set_policy(child.child_id, policy))
        assert_events(
            desk.registry,
            receipt,
            event(
                "PolicyChanged", childId=child.child_id, policyKind=policy.kind, threshold=threshold
            ),
        )
        assert desk.registry.child_record(child.child_id).policy == policy
    for threshold in (0, 4):
        with reverts(
            ChildRegistryInvalidPolicy, **policy_refused(child, PolicyKind.K_OF_N, threshold, 3)
        ):
            desk.registrar.transact(desk.registry.set_policy(child.child_id, k_of_n(threshold)))
    assert desk.registry.child_record(child.child_id).policy == ANY


# ---- revocation and supersession -------------------------------------------------------------


def mutations(desk: Desk, child: Child) -> dict[str, Any]:
    """Every registry change of one child, each valid for an active record."""
    first, second = child.guardians[0], child.guardians[-1]
    successor = desk.new_child(1)
    registry = desk.registry
    return {
        "addGuardian": registry.add_guardian(child.child_id, desk.guardian().key),
        "removeGuardian": registry.remove_guardian(child.child_id, second.address),
        "replaceGuardianAccount": registry.replace_guardian_account(
            child.child_id, first.address, desk.guardian().address
        ),
        "setPolicy": registry.set_policy(child.child_id, ALL),
        "revokeChild": registry.revoke_child(child.child_id, int(RevocationReason.OTHER)),
        "supersedeChild": registry.supersede_child(child.child_id, *successor.as_input()),
    }


def test_a_revoked_record_no_longer_changes(desk: Desk) -> None:
    child = desk.register(2)
    code = int(RevocationReason.DECEASED)
    receipt = desk.registrar.transact(desk.registry.revoke_child(child.child_id, code))
    assert_events(
        desk.registry, receipt, event("ChildRevoked", childId=child.child_id, reasonCode=code)
    )
    record = desk.registry.child_record(child.child_id)
    assert (record.status, record.guardian_count, record.policy) == (ChildStatus.REVOKED, 2, ANY)
    for name, call in mutations(desk, child).items():
        with reverts(
            ChildRegistryChildNotActive, childId=child.child_id, status=ChildStatus.REVOKED
        ):
            desk.registrar.transact(call)
        assert status(desk, child) is ChildStatus.REVOKED, name


def test_an_unknown_child_cannot_be_changed(desk: Desk) -> None:
    child = desk.new_child(2)
    for name, call in mutations(desk, child).items():
        with reverts(ChildRegistryUnknownChild, childId=child.child_id):
            desk.registrar.transact(call)
        assert status(desk, child) is ChildStatus.NONE, name


def test_superseding_moves_the_child_to_a_corrected_record(desk: Desk) -> None:
    old = desk.register(2)
    successor = desk.new_child(3, k_of_n(2))
    receipt = desk.registrar.transact(
        desk.registry.supersede_child(old.child_id, *successor.as_input())
    )
    assert_events(
        desk.registry,
        receipt,
        event("ChildSuperseded", childId=old.child_id, successorId=successor.child_id),
        *registered(successor),
    )
    assert status(desk, old) is ChildStatus.SUPERSEDED
    assert_stored(desk, successor, receipt)
    for name, call in mutations(desk, old).items():
        with reverts(
            ChildRegistryChildNotActive, childId=old.child_id, status=ChildStatus.SUPERSEDED
        ):
            desk.registrar.transact(call)
        assert status(desk, old) is ChildStatus.SUPERSEDED, name
    # The successor takes crossings; its guardians decide.
    request_id = desk.request(successor)
    receipt = desk.relay(successor.guardians[2], request_id, True)
    assert_events(
        desk.ledger,
        receipt,
        guardian_decided(
            request_id, successor.guardians[2].address, True, True, RequestStatus.PENDING
        ),
    )


def test_a_record_cannot_supersede_itself(desk: Desk) -> None:
    child = desk.register(1)
    with reverts(ChildRegistryAlreadyRegistered, childId=child.child_id):
        desk.registrar.transact(
            desk.registry.supersede_child(
                child.child_id, *replace(desk.new_child(1), child_id=child.child_id).as_input()
            )
        )
    assert status(desk, child) is ChildStatus.ACTIVE
