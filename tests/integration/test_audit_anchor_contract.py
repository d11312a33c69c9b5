"""AuditAnchor on chain: who may anchor, what an anchor records, and what it refuses.

Runs on the embedded chain and on anvil (the module-scoped world of ``conftest.py``). Tests
share one contract, so each anchors above whatever the last anchor was.
"""

from __future__ import annotations

import secrets

import pytest
from eth_utils.crypto import keccak

from ledger_client.contracts.reverts import (
    AccessControlUnauthorizedAccount,
    AuditAnchorEmptyHead,
    AuditAnchorNotNewer,
)
from ledger_client.contracts.sender import TransactionSender
from ledger_client.contracts.wrappers import AuditAnchorContract
from ledger_client.keys import LocalSigner
from ledger_client.services.context import staff_acting_as
from ledger_client.store.models import StaffRole
from tests.conftest import World
from tests.integration.contract_helpers import Desk, assert_events, event, reverts

ANCHOR_ROLE = keccak(text="ANCHOR_ROLE")


@pytest.fixture(scope="module")
def anchors(module_world: World) -> AuditAnchorContract:
    contract = module_world.tutela.audit_anchor
    assert contract is not None, "a fresh deployment has its audit anchor"
    return contract


@pytest.fixture(scope="module")
def anchorer(module_world: World) -> TransactionSender:
    tutela = module_world.tutela
    with tutela.database.transaction() as session:
        member = staff_acting_as(session, StaffRole.ANCHORER, None)
    return tutela.sender_for(member)


def _next(anchors: AuditAnchorContract) -> int:
    return anchors.latest().entry_count + 1


def test_the_contract_says_its_version_and_role(anchors: AuditAnchorContract) -> None:
    assert anchors.version() == "1.0.0"
    assert anchors.role_id("ANCHOR_ROLE") == ANCHOR_ROLE


def test_only_the_anchorer_holds_the_anchor_role(
    desk: Desk, anchors: AuditAnchorContract, anchorer: TransactionSender
) -> None:
    holders = {
        name: anchors.has_role("ANCHOR_ROLE", sender.address)
        for name, sender in (
            ("anchorer", anchorer),
            ("admin", desk.admin),
            ("registrar", desk.registrar),
            ("officer", desk.officer),
            ("protector", desk.protector),
            ("relayer", desk.relayer),
        )
    }
    assert holders == {
        "anchorer": True,
        "admin": False,
        "registrar": False,
        "officer": False,
        "protector": False,
        "relayer": False,
    }


def test_an_anchor_records_the_count_the_head_and_who(
    desk: Desk, anchors: AuditAnchorContract, anchorer: TransactionSender
) -> None:
    count, head = _next(anchors) + 4, secrets.token_bytes(32)
    receipt = anchorer.transact(anchors.anchor(count, head))
    assert_events(
        anchors,
        receipt,
        event("AuditAnchored", entryCount=count, head=head, by=anchorer.address),
    )
    block_time = int(desk.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    latest = anchors.latest()
    assert (latest.entry_count, latest.head, latest.anchored_at) == (count, head, block_time)


@pytest.mark.parametrize("actor", ["admin", "registrar", "officer", "protector", "relayer"])
def test_everyone_else_is_refused(desk: Desk, anchors: AuditAnchorContract, actor: str) -> None:
    sender: TransactionSender = getattr(desk, actor)
    before = anchors.latest()
    with reverts(AccessControlUnauthorizedAccount, account=sender.address, neededRole=ANCHOR_ROLE):
        sender.transact(anchors.anchor(_next(anchors), secrets.token_bytes(32)))
    assert anchors.latest() == before


def test_a_stranger_with_gas_is_refused(desk: Desk, anchors: AuditAnchorContract) -> None:
    stranger = LocalSigner.from_key(secrets.token_bytes(32))
    desk.fund(stranger.address)
    with reverts(
        AccessControlUnauthorizedAccount, account=stranger.address, neededRole=ANCHOR_ROLE
    ):
        desk.sender(stranger).transact(anchors.anchor(_next(anchors), secrets.token_bytes(32)))


def test_an_anchor_must_cover_more_entries_than_the_last(
    anchors: AuditAnchorContract, anchorer: TransactionSender
) -> None:
    count, head = _next(anchors), secrets.token_bytes(32)
    anchorer.transact(anchors.anchor(count, head))
    for given in (count, count - 1):
        with reverts(AuditAnchorNotNewer, last=count, given=given):
            anchorer.transact(anchors.anchor(given, secrets.token_bytes(32)))
    # The anchored head of a count cannot be replaced.
    assert anchors.latest().head == head


def test_an_anchor_of_nothing_is_refused(
    anchors: AuditAnchorContract, anchorer: TransactionSender
) -> None:
    with reverts(AuditAnchorEmptyHead, entryCount=_next(anchors)):
        anchorer.transact(anchors.anchor(_next(anchors), bytes(32)))
    with reverts(AuditAnchorEmptyHead, entryCount=0):
        anchorer.transact(anchors.anchor(0, secrets.token_bytes(32)))


def test_a_revoked_anchorer_can_no_longer_anchor(desk: Desk, anchors: AuditAnchorContract) -> None:
    deputy = LocalSigner.from_key(secrets.token_bytes(32))
    desk.fund(deputy.address)
    desk.admin.transact(anchors.grant_role("ANCHOR_ROLE", deputy.address))
    count = _next(anchors)
    desk.sender(deputy).transact(anchors.anchor(count, secrets.token_bytes(32)))
    assert anchors.latest().entry_count == count

    desk.admin.transact(anchors.revoke_role("ANCHOR_ROLE", deputy.address))
    with reverts(AccessControlUnauthorizedAccount, account=deputy.address, neededRole=ANCHOR_ROLE):
        desk.sender(deputy).transact(anchors.anchor(count + 1, secrets.token_bytes(32)))
