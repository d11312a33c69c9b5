# ruff: noqa: E501 - the table of actions keeps one action a line
"""Who may do what on chain: every role against every state-changing function, denying by default.

Each row of :data:`ACTIONS` names a function, the roles allowed to call it, and how it is
refused to everyone else. Every (action, role) pair runs on a fresh child and request, set up
so that the call would succeed for an allowed role: a refusal can only come from the role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from eth_utils.crypto import keccak
from web3.contract.contract import ContractFunction

from ledger_client.contracts.reverts import (
    AccessControlEnforcedDefaultAdminRules,
    AccessControlUnauthorizedAccount,
    CrossingLedgerNotGuardian,
)
from ledger_client.contracts.sender import TransactionSender
from ledger_client.contracts.types import (
    Direction,
    Outcome,
    PolicyKind,
    RequestStatus,
    RevocationReason,
)
from tests.integration.contract_helpers import (
    ALL,
    BORDER_POINT,
    DEFAULT_ADMIN_ROLE,
    HOUR,
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
    requested,
    reverts,
)

REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")
BORDER_OFFICER_ROLE = keccak(text="BORDER_OFFICER_ROLE")
CHILD_PROTECTION_ROLE = keccak(text="CHILD_PROTECTION_ROLE")
ROLES = ("admin", "registrar", "officer", "protector", "guardian", "outsider")
COURT_ORDER = keccak(text="court order 2024/117")
REASON = int(RevocationReason.FRAUD)


@dataclass(frozen=True)
class Scene:
    """What one case acts on: a registered child, whose first guardian plays "guardian"."""

    child: Child
    spares: tuple[Child, Child]  # unregistered children, for registrations
    newcomer: Guardian  # an account that is no guardian yet
    request_id: int = 0
    expires_at: int = 0
    signature: tuple[int, bytes] = (0, b"")


def child_scene(desk: Desk) -> Scene:
    return Scene(desk.register(2), (desk.new_child(2), desk.new_child(1)), desk.guardian())


def exit_scene(desk: Desk) -> Scene:
    scene = child_scene(desk)
    return replace(scene, request_id=desk.request(scene.child))


def signed_scene(desk: Desk) -> Scene:
    scene = exit_scene(desk)
    signature = desk.sign(scene.child.guardians[0], scene.request_id, True)
    return replace(scene, signature=signature)


def entry_scene(desk: Desk) -> Scene:
    scene = child_scene(desk)
    request_id = desk.request(scene.child, direction=Direction.ENTRY)
    return replace(scene, request_id=request_id)


def open_scene(desk: Desk) -> Scene:
    """Before a request: its id and expiry are fixed now, so its event can be predicted."""
    scene = child_scene(desk)
    next_id = int(desk.ledger.contract.functions.nextRequestId().call())
    return replace(scene, request_id=next_id, expires_at=desk.now() + HOUR)


def granted_scene(desk: Desk) -> Scene:
    scene = child_scene(desk)
    desk.admin.transact(desk.registry.grant_role("REGISTRAR_ROLE", scene.newcomer.address))
    return scene


Call = Callable[[Desk, Scene], ContractFunction]
Emits = Callable[[Desk, Scene, str], list[tuple[str, dict[str, object]]]]


@dataclass(frozen=True)
class Action:
    name: str
    contract: str  # "registry" or "ledger"
    allowed: frozenset[str]
    needed_role: bytes | None  # None: refused as "not a guardian" of the request's child
    setup: Callable[[Desk], Scene]
    call: Call
    emits: Emits


def role_granted(role: bytes) -> Emits:
    return lambda d, s, actor: [
        event("RoleGranted", role=role, account=s.newcomer.address, sender=actor)
    ]


def approved_by_first_guardian(
    d: Desk, s: Scene, actor: str
) -> list[tuple[str, dict[str, object]]]:
    guardian = s.child.guardians[0].address
    return [guardian_decided(s.request_id, guardian, True, True, RequestStatus.APPROVED)]


def _emits_request(d: Desk, s: Scene, actor: str) -> list[tuple[str, dict[str, object]]]:
    return [requested(d, s.request_id, s.child, Direction.EXIT, ZERO32, s.expires_at)]


def _second(s: Scene) -> Guardian:
    return s.child.guardians[1]


REGISTRAR = frozenset({"registrar"})
OFFICER = frozenset({"officer"})
PROTECTOR = frozenset({"protector"})
ADMIN = frozenset({"admin"})
GUARDIAN = frozenset({"guardian"})
ANYONE = frozenset(ROLES)
# Deny by default: a role not named in a row is expected to be refused that action.
# fmt: off
ACTIONS = [
    Action("registerChild", "registry", REGISTRAR, REGISTRAR_ROLE, child_scene, lambda d, s: d.registry.register_child(*s.spares[0].as_input()), lambda d, s, a: registered(s.spares[0])),
    Action("registerChildren", "registry", REGISTRAR, REGISTRAR_ROLE, child_scene, lambda d, s: d.registry.register_children([c.as_input() for c in s.spares]), lambda d, s, a: registered(s.spares[0]) + registered(s.spares[1])),
    Action("addGuardian", "registry", REGISTRAR, REGISTRAR_ROLE, child_scene, lambda d, s: d.registry.add_guardian(s.child.child_id, s.newcomer.key), lambda d, s, a: [guardian_added(s.child.child_id, s.newcomer.address, s.newcomer.document)]),
    Action("removeGuardian", "registry", REGISTRAR, REGISTRAR_ROLE, child_scene, lambda d, s: d.registry.remove_guardian(s.child.child_id, _second(s).address), lambda d, s, a: [guardian_removed(s.child.child_id, _second(s).address)]),
    Action("replaceGuardianAccount", "registry", REGISTRAR, REGISTRAR_ROLE, child_scene, lambda d, s: d.registry.replace_guardian_account(s.child.child_id, _second(s).address, s.newcomer.address), lambda d, s, a: [guardian_removed(s.child.child_id, _second(s).address), guardian_added(s.child.child_id, s.newcomer.address, _second(s).document)]),
    Action("setPolicy", "registry", REGISTRAR, REGISTRAR_ROLE, child_scene, lambda d, s: d.registry.set_policy(s.child.child_id, ALL), lambda d, s, a: [event("PolicyChanged", childId=s.child.child_id, policyKind=PolicyKind.ALL, threshold=0)]),
    Action("revokeChild", "registry", REGISTRAR, REGISTRAR_ROLE, child_scene, lambda d, s: d.registry.revoke_child(s.child.child_id, REASON), lambda d, s, a: [event("ChildRevoked", childId=s.child.child_id, reasonCode=REASON)]),
    Action("supersedeChild", "registry", REGISTRAR, REGISTRAR_ROLE, child_scene, lambda d, s: d.registry.supersede_child(s.child.child_id, *s.spares[0].as_input()), lambda d, s, a: [event("ChildSuperseded", childId=s.child.child_id, successorId=s.spares[0].child_id), *registered(s.spares[0])]),
    Action("grantRole(registry)", "registry", ADMIN, DEFAULT_ADMIN_ROLE, child_scene, lambda d, s: d.registry.grant_role("REGISTRAR_ROLE", s.newcomer.address), role_granted(REGISTRAR_ROLE)),
    Action("grantRole(ledger)", "ledger", ADMIN, DEFAULT_ADMIN_ROLE, child_scene, lambda d, s: d.ledger.grant_role("BORDER_OFFICER_ROLE", s.newcomer.address), role_granted(BORDER_OFFICER_ROLE)),
    Action("revokeRole(registry)", "registry", ADMIN, DEFAULT_ADMIN_ROLE, granted_scene, lambda d, s: d.registry.revoke_role("REGISTRAR_ROLE", s.newcomer.address), lambda d, s, a: [event("RoleRevoked", role=REGISTRAR_ROLE, account=s.newcomer.address, sender=a)]),
    Action("requestCrossing", "ledger", OFFICER, BORDER_OFFICER_ROLE, open_scene, lambda d, s: d.ledger.request_crossing(s.child.child_id, Direction.EXIT, BORDER_POINT, ZERO32, s.expires_at), _emits_request),
    Action("decide", "ledger", GUARDIAN, None, exit_scene, lambda d, s: d.ledger.decide(s.request_id, True), approved_by_first_guardian),
    Action("decideBySig", "ledger", ANYONE, None, signed_scene, lambda d, s: d.ledger.decide_by_sig(s.request_id, s.child.guardians[0].address, True, *s.signature), approved_by_first_guardian),
    Action("protectionDecide", "ledger", PROTECTOR, CHILD_PROTECTION_ROLE, exit_scene, lambda d, s: d.ledger.protection_decide(s.request_id, True), lambda d, s, a: [event("ProtectionDecided", requestId=s.request_id, officer=a, approved=True, status=RequestStatus.PENDING)]),
    Action("overrideByCourtOrder", "ledger", PROTECTOR, CHILD_PROTECTION_ROLE, exit_scene, lambda d, s: d.ledger.override_by_court_order(s.request_id, COURT_ORDER), lambda d, s, a: [event("CrossingOverridden", requestId=s.request_id, officer=a, courtOrderHash=COURT_ORDER)]),
    Action("recordOutcome", "ledger", OFFICER, BORDER_OFFICER_ROLE, entry_scene, lambda d, s: d.ledger.record_outcome(s.request_id, Outcome.CROSSED), lambda d, s, a: [event("CrossingRecorded", requestId=s.request_id, childId=s.child.child_id, outcome=Outcome.CROSSED, officer=a)]),
]
# fmt: on


def actor(desk: Desk, role: str, scene: Scene) -> TransactionSender:
    if role == "guardian":
        return desk.sender(scene.child.guardians[0].signer)
    senders = {
        "admin": desk.admin,
        "registrar": desk.registrar,
        "officer": desk.officer,
        "protector": desk.protector,
        "outsider": desk.relayer,
    }
    return senders[role]


@pytest.mark.parametrize(
    ("action", "role"),
    [pytest.param(a, r, id=f"{a.name}-{r}") for a in ACTIONS for r in ROLES],
)
def test_only_the_allowed_roles_act(desk: Desk, action: Action, role: str) -> None:
    scene = action.setup(desk)
    sender = actor(desk, role, scene)
    function = action.call(desk, scene)
    contract = desk.registry if action.contract == "registry" else desk.ledger
    if role in action.allowed:
        desk.fund(sender.address)
        receipt = sender.transact(function)
        assert_events(contract, receipt, *action.emits(desk, scene, sender.address))
    elif action.needed_role is None:
        with reverts(CrossingLedgerNotGuardian, requestId=scene.request_id, account=sender.address):
            sender.transact(function)
    else:
        with reverts(
            AccessControlUnauthorizedAccount, account=sender.address, neededRole=action.needed_role
        ):
            sender.transact(function)


def test_every_actor_holds_exactly_its_role(desk: Desk) -> None:
    """The staff the matrix relies on: one role each, and nobody else holds any."""
    holders = {
        (desk.registry, "REGISTRAR_ROLE"): desk.registrar.address,
        (desk.ledger, "BORDER_OFFICER_ROLE"): desk.officer.address,
        (desk.ledger, "CHILD_PROTECTION_ROLE"): desk.protector.address,
        (desk.registry, "DEFAULT_ADMIN_ROLE"): desk.admin.address,
        (desk.ledger, "DEFAULT_ADMIN_ROLE"): desk.admin.address,
    }
    everyone = [desk.admin, desk.registrar, desk.officer, desk.protector, desk.relayer]
    for (contract, role), holder in holders.items():
        assert [s.address for s in everyone if contract.has_role(role, s.address)] == [holder]


@pytest.mark.parametrize("contract_name", ["registry", "ledger"])
def test_the_admin_cannot_grant_the_admin_role_directly(desk: Desk, contract_name: str) -> None:
    contract = desk.registry if contract_name == "registry" else desk.ledger
    newcomer = desk.guardian().address
    with reverts(AccessControlEnforcedDefaultAdminRules):
        desk.admin.transact(contract.grant_role("DEFAULT_ADMIN_ROLE", newcomer))
    assert not contract.has_role("DEFAULT_ADMIN_ROLE", newcomer)
    assert contract.has_role("DEFAULT_ADMIN_ROLE", desk.admin.address)


def test_a_granted_role_acts_and_a_revoked_one_no_longer_does(desk: Desk) -> None:
    newcomer = desk.guardian(funded=True)
    officer = desk.sender(newcomer.signer)
    child = desk.register(1)
    expires_at = desk.now() + HOUR
    call = desk.ledger.request_crossing(
        child.child_id, Direction.EXIT, BORDER_POINT, ZERO32, expires_at
    )
    desk.admin.transact(desk.ledger.grant_role("BORDER_OFFICER_ROLE", newcomer.address))
    assert desk.ledger.has_role("BORDER_OFFICER_ROLE", newcomer.address)
    request_id = desk.ledger.request_id_from(officer.transact(call))
    assert desk.ledger.get_request(request_id).status is RequestStatus.PENDING
    desk.admin.transact(desk.ledger.revoke_role("BORDER_OFFICER_ROLE", newcomer.address))
    assert not desk.ledger.has_role("BORDER_OFFICER_ROLE", newcomer.address)
    with reverts(
        AccessControlUnauthorizedAccount, account=newcomer.address, neededRole=BORDER_OFFICER_ROLE
    ):
        officer.transact(desk.ledger.record_outcome(request_id, Outcome.TURNED_BACK))
