"""Staff members get exactly one role on chain, and lose it when removed."""

from __future__ import annotations

import pytest

from ledger_client.contracts.reverts import AccessControlUnauthorizedAccount
from ledger_client.contracts.types import ChildId, Direction
from ledger_client.errors import ConfigurationError, ConflictError, NotFoundError
from ledger_client.services import children, crossings, staff
from ledger_client.services.context import staff_acting_as
from ledger_client.store.models import StaffMember, StaffRole
from tests.conftest import World


def _member(world: World, name: str) -> StaffMember:
    with world.tutela.database.transaction() as session:
        member = session.query(StaffMember).filter_by(name=name).one()
        session.expunge(member)
        return member


def test_each_role_is_granted_on_its_contract_only(embedded_world: World) -> None:
    tutela = embedded_world.tutela
    holdings = {
        name: {
            role
            for contract, role in (
                (tutela.registry, "REGISTRAR_ROLE"),
                (tutela.ledger, "BORDER_OFFICER_ROLE"),
                (tutela.ledger, "CHILD_PROTECTION_ROLE"),
            )
            if contract.has_role(role, _member(embedded_world, name).address)
        }
        for name in ("registrar", "officer", "protector", "relayer")
    }
    assert holdings == {
        "registrar": {"REGISTRAR_ROLE"},
        "officer": {"BORDER_OFFICER_ROLE"},
        "protector": {"CHILD_PROTECTION_ROLE"},
        "relayer": set(),
    }
    investigator = staff.add_staff(tutela, "Ina Vieru", "investigator")
    assert not any(
        tutela.ledger.has_role(role, investigator.address)
        for role in ("BORDER_OFFICER_ROLE", "CHILD_PROTECTION_ROLE")
    )


def test_a_removed_officer_can_no_longer_act(embedded_world: World) -> None:
    tutela = embedded_world.tutela
    child = children.enrol_child(
        tutela,
        given_name="Ana",
        family_name="Lupu",
        birth_date="2018-02-01",
        birth_place="Orhei",
        guardian_specs=["Dan Lupu;MD1112223;dan@example.org"],
    )
    officer = _member(embedded_world, "officer")
    removed = staff.remove_staff(tutela, "officer")
    assert not removed.active
    assert not tutela.ledger.has_role("BORDER_OFFICER_ROLE", officer.address)
    assert [m.active for m in staff.list_staff(tutela) if m.name == "officer"] == [False]

    # Through Tutela: nobody holds the role any more, and naming the member is refused.
    with pytest.raises(NotFoundError, match="there is no border-officer"):
        crossings.request_crossing(
            tutela,
            child.card,
            direction="exit",
            border_point="MD-LEUSENI",
            companion_name="Dan Lupu",
            companion_document="MD1112223",
        )
    with tutela.database.transaction() as session, pytest.raises(ConfigurationError):
        staff_acting_as(session, StaffRole.BORDER_OFFICER, "officer")
    # With the key itself, straight to the contract: the chain refuses.
    sender = tutela.sender_for(officer)
    with pytest.raises(AccessControlUnauthorizedAccount) as refused:
        sender.transact(
            tutela.ledger.request_crossing(
                ChildId(bytes.fromhex(child.child_id[2:])),
                Direction.EXIT,
                "MD-LEUSENI",
                b"\1" * 32,
                tutela.chain_time() + 600,
            )
        )
    assert refused.value.arguments["account"] == officer.address

    # Asking again is the same action: it is reported, and nothing more is sent.
    height = tutela.w3.eth.block_number
    assert not staff.remove_staff(tutela, "officer").active
    assert tutela.w3.eth.block_number == height
    # Under a new key it is a new action, which the store refuses before anything is sent.
    with pytest.raises(ConflictError, match="removed already"):
        staff.remove_staff(tutela, "officer", idempotency_key="remove-officer-again")
    with pytest.raises(ConflictError, match="cannot be removed"):
        staff.remove_staff(tutela, "admin")
    with pytest.raises(NotFoundError):
        staff.remove_staff(tutela, "nobody")
