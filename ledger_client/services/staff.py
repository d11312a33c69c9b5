"""Staff members: their keys, and the on-chain role each holds (one role per actor)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_client.errors import ConflictError, InputError, NotFoundError
from ledger_client.keys import new_keystore
from ledger_client.outbox.outbox import Call
from ledger_client.services.context import Prepared, Tutela, staff_acting_as
from ledger_client.services.setup import FUNDING, needs_funding
from ledger_client.store.models import StaffMember, StaffRole

# Where each staff role lives on chain; investigators only read, so they hold none.
ON_CHAIN_ROLES: dict[StaffRole, tuple[str, str] | None] = {
    StaffRole.REGISTRAR: ("registry", "REGISTRAR_ROLE"),
    StaffRole.BORDER_OFFICER: ("ledger", "BORDER_OFFICER_ROLE"),
    StaffRole.CHILD_PROTECTION: ("ledger", "CHILD_PROTECTION_ROLE"),
    StaffRole.INVESTIGATOR: None,
    # Auditors read the audit log in the store and its anchors on chain; they sign nothing.
    StaffRole.AUDITOR: None,
}
ASSIGNABLE_ROLES = tuple(str(role) for role in ON_CHAIN_ROLES)


@dataclass(frozen=True)
class StaffView:
    name: str
    role: str
    address: str
    active: bool = True


def add_staff(
    tutela: Tutela, name: str, role: str, *, idempotency_key: str | None = None
) -> StaffView:
    """Creates a staff member's key and grants the matching on-chain role.

    The store row is written with the grant's outbox entry; a grant that fails on chain
    removes it again, so a refused grant leaves no member behind.

    Raises:
        InputError: a malformed name or an unknown role.
        ConflictError: the name is taken.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError("a staff name must have 1 to 100 characters")
    if role not in ASSIGNABLE_ROLES:
        raise InputError(f"unknown role {role!r}: choose one of {', '.join(ASSIGNABLE_ROLES)}")
    staff_role = StaffRole(role)
    intent = tutela.intent("staff-add", {"name": name, "role": role}, idempotency_key)

    def prepare(session: Session) -> Prepared:
        if session.scalar(select(StaffMember).where(StaffMember.name == name)) is not None:
            raise ConflictError(f"there is already a staff member called {name!r}")
        keystore, address = new_keystore(
            tutela.keystore_password, work_factor=tutela.settings.keystore_work_factor
        )
        member = StaffMember(
            name=name,
            role=staff_role,
            address=address,
            keystore=keystore,
            created_at=datetime.now(UTC),
        )
        session.add(member)
        session.flush()
        admin = staff_acting_as(session, StaffRole.ADMIN, None)
        target = ON_CHAIN_ROLES[staff_role]
        if target is None:
            # Investigators hold no role; a grant of nothing would still need a transaction.
            return Prepared(tutela.signer_of(admin), [])
        contract = tutela.registry if target[0] == "registry" else tutela.ledger
        calls = [Call.of(contract.grant_role(target[1], address), staff=member.id)]
        if needs_funding(tutela.w3, address):
            calls.append(Call(to=address, data=b"", value=FUNDING))
        return Prepared(tutela.signer_of(admin), calls)

    tutela.carry_out(intent, prepare)
    with tutela.database.transaction() as session:
        member = session.scalar(select(StaffMember).where(StaffMember.name == name))
        if member is None:
            raise ConflictError(f"the grant of {name!r} failed; the member was not added")
        return StaffView(name=member.name, role=member.role, address=member.address)


def remove_staff(tutela: Tutela, name: str, *, idempotency_key: str | None = None) -> StaffView:
    """Revokes a staff member's on-chain role; their key can no longer act.

    The row stays (marked removed) so that the member's past actions remain attributable.

    Raises:
        NotFoundError: nobody of that name.
        ConflictError: already removed, or the admin or the relayer (rotated, not removed).
    """
    name = name.strip()
    intent = tutela.intent("staff-remove", {"name": name}, idempotency_key)

    def prepare(session: Session) -> Prepared:
        member = session.scalar(select(StaffMember).where(StaffMember.name == name))
        if member is None:
            raise NotFoundError(f"there is no staff member called {name!r}")
        if member.removed_at is not None:
            raise ConflictError(f"{member.name} was removed already")
        role = StaffRole(member.role)
        if role not in ON_CHAIN_ROLES:
            raise ConflictError(f"the {role} account cannot be removed, only replaced")
        member.removed_at = datetime.now(UTC)
        admin = staff_acting_as(session, StaffRole.ADMIN, None)
        target = ON_CHAIN_ROLES[role]
        if target is None:
            return Prepared(tutela.signer_of(admin), [])
        contract = tutela.registry if target[0] == "registry" else tutela.ledger
        call = contract.revoke_role(target[1], member.address)
        return Prepared(tutela.signer_of(admin), [Call.of(call, staff=member.id)])

    tutela.carry_out(intent, prepare)
    with tutela.database.transaction() as session:
        member = session.scalar(select(StaffMember).where(StaffMember.name == name))
        assert member is not None  # removal never deletes the row
        return StaffView(member.name, member.role, member.address, member.removed_at is None)


def list_staff(tutela: Tutela) -> list[StaffView]:
    with tutela.database.reading() as session:
        members = session.scalars(select(StaffMember).order_by(StaffMember.id)).all()
        return [StaffView(m.name, m.role, m.address, m.removed_at is None) for m in members]
