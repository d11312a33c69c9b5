"""Guardians hold their own keys: activation codes, PIN and password, the lock, what a
guardian may see, and re-verification in person, on the embedded chain."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from ledger_client.cards import damm_check_digit, format_card
from ledger_client.contracts.types import ChildId
from ledger_client.errors import (
    ConflictError,
    CryptoError,
    InputError,
    NotFoundError,
    SignatureError,
)
from ledger_client.identity import document_commitment, phone_lookup
from ledger_client.keys import unlock_keystore
from ledger_client.outbox.models import OutboxItem
from ledger_client.outbox.outbox import Outbox
from ledger_client.outbox.reconciler import reconcile_once
from ledger_client.services import children, crossings, guardians, staff
from ledger_client.services.context import Tutela
from ledger_client.services.guardian_keys import open_contact
from ledger_client.store.models import Guardian
from ledger_client.store.portal_models import GuardianAccount, PortalSession
from tests.conftest import World, _world, make_settings

MOTHER = "Elena Popescu;MD-0877-1290;elena.popescu@example.org;+373 69 123 456"
FATHER = "Ion Popescu;MD-0912-3345;ion.popescu@example.org"
NEIGHBOUR = "Vera Rusu;AB-778-120;vera.rusu@example.org"
MOTHER_DOC, FATHER_DOC, NEIGHBOUR_DOC = "MD08771290", "MD09123345", "AB778120"
PASSWORD = "a long walk by the river Prut"
PIN = "406213"
OTHER_PIN = "771903"


class Clock:
    """Tutela's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta.total_seconds()


@pytest.fixture
def tutela(embedded_world: World) -> Tutela:
    return embedded_world.tutela


@pytest.fixture
def store_world(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """The embedded chain with the store on SQLite and on PostgreSQL, where rows are locked."""
    monkeypatch.setenv("TUTELA_DATABASE_URL", database_url)
    yield from _world(make_settings(tmp_path / "data", None, monkeypatch))


@pytest.fixture
def clock(embedded_world: World) -> Clock:
    clock = Clock()
    embedded_world.tutela.clock = clock
    return clock


def enrol(
    tutela: Tutela, given_name: str, *specs: str, policy: str = "any", acting_as: str | None = None
) -> children.ChildView:
    return children.enrol_child(
        tutela,
        given_name=given_name,
        family_name="Popescu",
        birth_date="2016-04-12",
        birth_place="Chișinău",
        guardian_specs=list(specs),
        policy=policy,
        acting_as=acting_as,
    )


def ask(tutela: Tutela, card: str, companion: str = "XZ9912001") -> str:
    """An exit with a companion who is nobody's guardian (unless ``companion`` is one)."""
    view = crossings.request_crossing(
        tutela,
        card,
        direction="exit",
        border_point="MD-LEUSENI",
        companion_name="Sergiu Ceban",
        companion_document=companion,
    )
    return str(view.request)


def codes_of(view: children.ChildView) -> dict[str, str]:
    return {c.document: c.code for c in view.activation_codes}


def account_of(tutela: Tutela, document: str) -> GuardianAccount:
    commitment = "0x" + document_commitment(tutela.commitment_key, document).hex()
    with tutela.database.reading() as session:
        account = session.scalar(
            select(GuardianAccount).where(GuardianAccount.document_commitment == commitment)
        )
        assert account is not None
        session.expunge(account)
        return account


def activate(tutela: Tutela, document: str, code: str, pin: str = PIN) -> int:
    view = guardians.activate_guardian(
        tutela, document=document, code=code, password=PASSWORD, pin=pin
    )
    assert view.activated
    return view.id


def state(tutela: Tutela, document: str) -> dict[str, Any]:
    """What activation would change, to compare before and after a refusal."""
    account = account_of(tutela, document)
    return {
        name: getattr(account, name)
        for name in (
            "address",
            "keystore_activation",
            "password_hash",
            "keystore_password",
            "keystore_pin",
            "activated_at",
        )
    }


def chain_document(tutela: Tutela, card: str, address: str) -> bytes:
    child_id = ChildId(bytes.fromhex(children.show_child(tutela, card).child_id[2:]))
    return tutela.registry.guardian_document(child_id, address)


def test_enrolment_gives_each_new_guardian_an_account_and_a_code_once(
    tutela: Tutela, clock: Clock
) -> None:
    child = enrol(tutela, "Maria", FATHER, MOTHER)
    assert [(c.name, c.document) for c in child.activation_codes] == [
        ("Ion Popescu", FATHER_DOC),
        ("Elena Popescu", MOTHER_DOC),
    ]
    for shown in child.activation_codes:
        groups = shown.code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4]
        assert shown.code not in repr(shown)
        expires = datetime.fromisoformat(shown.expires_at)
        assert expires - datetime.fromtimestamp(clock.now, UTC) == pytest.approx(
            timedelta(days=30), abs=timedelta(seconds=1)
        )
    assert child.activation_codes[0].code != child.activation_codes[1].code

    mother, father = account_of(tutela, MOTHER_DOC), account_of(tutela, FATHER_DOC)
    assert [g.address for g in child.guardians] == [father.address, mother.address]
    assert chain_document(tutela, child.card, mother.address) == document_commitment(
        tutela.commitment_key, MOTHER_DOC
    )
    assert (mother.language, mother.activated_at, mother.password_hash) == ("ro", None, None)
    assert mother.keystore_activation is not None
    assert mother.phone_lookup == phone_lookup(tutela.commitment_key, "069123456")
    assert open_contact(tutela, mother) == {
        "name": "Elena Popescu",
        "document": MOTHER_DOC,
        "email": "elena.popescu@example.org",
        "phone": "+37369123456",
    }
    assert child.guardians[1].phone == "+37369123456"
    # The child's record shown again carries no code: it was given once.
    assert children.show_child(tutela, child.card).activation_codes == ()


def test_one_person_guarding_two_children_has_one_account_and_one_address(
    tutela: Tutela,
) -> None:
    maria = enrol(tutela, "Maria", MOTHER)
    ion = enrol(tutela, "Ion", FATHER, MOTHER)
    assert [c.document for c in ion.activation_codes] == [FATHER_DOC]
    added = children.add_guardian(tutela, maria.card, FATHER)
    assert added.activation_codes == ()
    assert added.guardians[1].address == ion.guardians[0].address
    mother = account_of(tutela, MOTHER_DOC)
    assert maria.guardians[0].address == ion.guardians[1].address == mother.address
    with tutela.database.reading() as session:
        assert len(session.scalars(select(GuardianAccount)).all()) == 2
        rows = session.scalars(select(Guardian).where(Guardian.account_id == mother.id)).all()
    assert len(rows) == 2

    # One code opens the key for both children.
    code = codes_of(maria)[MOTHER_DOC]
    for card in (maria.card, ion.card):
        decision = crossings.decide_as_guardian(
            tutela, ask(tutela, card), account_id=mother.id, approve=True, secret=code
        )
        assert decision.status == "approved"
    assert [c.card for c in guardians.guardian_children(tutela, mother.id)] == [
        maria.card,
        ion.card,
    ]


def test_activation_checks_the_code_and_the_rules_and_changes_nothing_when_refused(
    tutela: Tutela,
) -> None:
    child = enrol(tutela, "Maria", MOTHER)
    code = codes_of(child)[MOTHER_DOC]
    before = state(tutela, MOTHER_DOC)

    wrong = "ZZZZ-ZZZZ-ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ-ZZZZ-ZZZZ" else "YYYY-YYYY-YYYY-YYYY"
    with pytest.raises(SignatureError, match="document number or activation code is wrong"):
        activate(tutela, MOTHER_DOC, wrong)
    with pytest.raises(NotFoundError, match="document number or activation code is wrong"):
        activate(tutela, "MD00000000", code)
    rules = [
        ("short but fine", PIN, "at least 15 characters"),
        ("x" * 201, PIN, "at most 200 characters"),
        (PASSWORD, "40621", "exactly 6 digits"),
        (PASSWORD, "\uff14\uff10\uff16\uff12\uff11\uff13", "exactly 6 digits"),  # full-width
        (PASSWORD, "111111", "must not repeat one digit"),
        (PASSWORD, "123456", "run of consecutive digits"),
        (PASSWORD, "654321", "run of consecutive digits"),
        (PASSWORD, "890123", "run of consecutive digits"),
        (PASSWORD + " 406213", PIN, "must not appear inside the password"),
    ]
    for password, pin, message in rules:
        with pytest.raises(InputError, match=message):
            guardians.activate_guardian(
                tutela, document=MOTHER_DOC, code=code, password=password, pin=pin
            )
    assert state(tutela, MOTHER_DOC) == before
    # Only the wrong code was a try of a secret.
    assert account_of(tutela, MOTHER_DOC).failed_secret_attempts == 1

    # Typed as people type it: small letters, no dashes.
    account_id = activate(tutela, "md-0877-1290", code.lower().replace("-", ""))
    after = account_of(tutela, MOTHER_DOC)
    assert after.address == before["address"]
    assert after.failed_secret_attempts == 0
    assert (after.keystore_activation, after.activation_expires_at) == (None, None)
    assert after.password_hash is not None
    assert check_password_hash(after.password_hash, PASSWORD)
    assert after.keystore_password is not None
    assert after.keystore_pin is not None
    with pytest.raises(ConflictError, match="activated already"):
        activate(tutela, MOTHER_DOC, code)
    # The code opens nothing any more.
    with pytest.raises(SignatureError, match="wrong"):
        crossings.decide_as_guardian(
            tutela, ask(tutela, child.card), account_id=account_id, approve=True, secret=code
        )


def test_an_expired_activation_code_is_refused(tutela: Tutela, clock: Clock) -> None:
    child = enrol(tutela, "Maria", MOTHER)
    code = codes_of(child)[MOTHER_DOC]
    request = ask(tutela, child.card)
    clock.advance(timedelta(days=30, seconds=1))
    with pytest.raises(SignatureError, match="activation code has expired"):
        activate(tutela, MOTHER_DOC, code)
    with pytest.raises(SignatureError, match="activation code has expired"):
        crossings.decide_as_guardian(
            tutela, request, guardian_document=MOTHER_DOC, approve=True, secret=code
        )
    assert account_of(tutela, MOTHER_DOC).activated_at is None
    assert crossings.show_crossing(tutela, request).approvals == 0


def test_a_guardian_decides_with_the_pin_or_the_password_and_signs_in_with_the_password(
    tutela: Tutela,
) -> None:
    maria = enrol(tutela, "Maria", FATHER, MOTHER, policy="all")
    codes = codes_of(maria)
    with pytest.raises(InputError, match="activate it first"):
        guardians.authenticate_guardian(tutela, document=MOTHER_DOC, password=PASSWORD)
    mother = activate(tutela, MOTHER_DOC, codes[MOTHER_DOC])

    first = ask(tutela, maria.card)
    by_pin = crossings.decide_as_guardian(
        tutela, first, guardian_document="md 0877 1290", approve=True, secret=PIN
    )
    assert (by_pin.approved, by_pin.counted, by_pin.status) == (True, True, "pending")
    second = ask(tutela, maria.card, companion="XZ9912002")
    by_password = crossings.decide_as_guardian(
        tutela, second, account_id=mother, approve=False, secret=PASSWORD
    )
    assert (by_password.approved, by_password.status) == (False, "denied")
    [entry] = [e for e in crossings.history(tutela, maria.card) if e.request == int(first)]
    assert [d["guardian"] for d in entry.decisions] == [maria.guardians[1].address]

    view = guardians.authenticate_guardian(tutela, document="MD-0877-1290", password=PASSWORD)
    assert (view.id, view.name, view.phone, view.activated) == (
        mother,
        "Elena Popescu",
        "+37369123456",
        True,
    )
    with pytest.raises(SignatureError) as wrong:
        guardians.authenticate_guardian(tutela, document=MOTHER_DOC, password=PASSWORD + "!")
    with pytest.raises(NotFoundError) as unknown:
        guardians.authenticate_guardian(tutela, document="MD00000000", password=PASSWORD)
    assert str(wrong.value) == str(unknown.value) == "the document number or password is wrong"


def test_five_wrong_secrets_lock_decisions_for_fifteen_minutes(store_world: World) -> None:
    tutela = store_world.tutela
    clock = Clock()
    tutela.clock = clock
    child = enrol(tutela, "Maria", MOTHER)
    mother = activate(tutela, MOTHER_DOC, codes_of(child)[MOTHER_DOC])
    request = ask(tutela, child.card)

    def decide(secret: str) -> crossings.DecisionView:
        return crossings.decide_as_guardian(
            tutela, request, account_id=mother, approve=True, secret=secret
        )

    # A right secret forgives earlier slips: only five wrong in a row lock.
    with pytest.raises(SignatureError, match="4 more wrong tries"):
        decide(OTHER_PIN)
    assert guardians.unlock_guardian_key(tutela, mother, PASSWORD).address == (
        child.guardians[0].address
    )
    assert account_of(tutela, MOTHER_DOC).failed_secret_attempts == 0
    for left in (4, 3, 2):
        with pytest.raises(SignatureError, match=f"{left} more wrong tries"):
            decide(OTHER_PIN)
    with pytest.raises(SignatureError, match="1 more wrong try locks"):
        decide("not the password at all")
    with pytest.raises(guardians.GuardianLockedError) as locked:
        decide(OTHER_PIN)
    until = datetime.fromtimestamp(clock.now, UTC) + timedelta(minutes=15)
    assert locked.value.locked_until == until
    assert f"locked until {until:%Y-%m-%d %H:%M} UTC" in str(locked.value)

    # The sixth try is the right PIN: still refused while the lock lasts.
    with pytest.raises(guardians.GuardianLockedError):
        decide(PIN)
    clock.advance(timedelta(minutes=14, seconds=59))
    with pytest.raises(guardians.GuardianLockedError):
        decide(PIN)
    assert crossings.show_crossing(tutela, request).approvals == 0
    clock.advance(timedelta(seconds=2))
    assert decide(PIN).status == "approved"
    account = account_of(tutela, MOTHER_DOC)
    assert (account.failed_secret_attempts, account.locked_until) == (0, None)


def test_a_guardian_sees_and_decides_only_the_children_they_guard(tutela: Tutela) -> None:
    ours = enrol(tutela, "Maria", FATHER, MOTHER, policy="all")
    theirs = children.enrol_child(
        tutela,
        given_name="Andrei",
        family_name="Rusu",
        birth_date="2019-11-30",
        birth_place="Bălți",
        guardian_specs=[NEIGHBOUR],
    )
    mother = activate(tutela, MOTHER_DOC, codes_of(ours)[MOTHER_DOC])
    neighbour_code = codes_of(theirs)[NEIGHBOUR_DOC]
    ours_request = ask(tutela, ours.card, companion=FATHER_DOC)
    theirs_request = ask(tutela, theirs.card)

    [pending] = guardians.guardian_requests(tutela, mother)
    assert (pending.request, pending.card) == (int(ours_request), ours.card)
    assert (pending.child_given_name, pending.child_family_name) == ("Maria", "Popescu")
    assert (pending.direction, pending.border_point) == ("exit", "MD-LEUSENI")
    assert (pending.companion_name, pending.companion_is_guardian) == ("Sergiu Ceban", True)
    assert (pending.officer, pending.status) == ("officer", "pending")
    assert (pending.decided, pending.approved) == (False, None)
    assert 59 * 60 < pending.seconds_left <= 60 * 60
    assert pending.expires_at - pending.requested_at == pytest.approx(
        timedelta(hours=1), abs=timedelta(seconds=5)
    )

    # Another family's child and request are unknown to her, whatever the number she tries.
    unknown = f"there is no crossing request {theirs_request}"
    with pytest.raises(NotFoundError, match=unknown):
        guardians.guardian_request(tutela, mother, theirs_request)
    with pytest.raises(NotFoundError, match=unknown):
        crossings.decide_as_guardian(
            tutela, theirs_request, account_id=mother, approve=True, secret=PIN
        )
    with pytest.raises(NotFoundError, match="no current guardian of this child"):
        crossings.decide_as_guardian(
            tutela, theirs_request, guardian_document=MOTHER_DOC, approve=True, secret=PIN
        )
    with pytest.raises(NotFoundError, match=f"no child has card number {theirs.card}"):
        guardians.guardian_history(tutela, mother, theirs.card)
    stranger = format_card("123456789" + damm_check_digit("123456789"))
    with pytest.raises(NotFoundError, match=f"no child has card number {stranger}"):
        guardians.guardian_history(tutela, mother, stranger)
    assert [c.card for c in guardians.guardian_children(tutela, mother)] == [ours.card]
    # Refused before any secret was tried: nothing counted.
    assert account_of(tutela, MOTHER_DOC).failed_secret_attempts == 0

    decided = crossings.decide_as_guardian(
        tutela, ours_request, account_id=mother, approve=True, secret=PIN
    )
    assert decided.status == "pending"  # the policy asks for the father too
    [after] = guardians.guardian_requests(tutela, mother)
    assert (after.decided, after.approved) == (True, True)
    # Equal but for the seconds left, which may have ticked between the two reads.
    assert replace(guardians.guardian_request(tutela, mother, ours_request), seconds_left=0) == (
        replace(after, seconds_left=0)
    )
    [history] = guardians.guardian_history(tutela, mother, ours.card)
    assert history.request == int(ours_request)

    # The neighbour's own request is hers to see and decide, and ours is not.
    neighbour = account_of(tutela, NEIGHBOUR_DOC).id
    assert [r.request for r in guardians.guardian_requests(tutela, neighbour)] == [
        int(theirs_request)
    ]
    denied = crossings.decide_as_guardian(
        tutela, theirs_request, account_id=neighbour, approve=False, secret=neighbour_code
    )
    assert denied.status == "denied"
    assert guardians.guardian_requests(tutela, neighbour) == []
    assert guardians.guardian_request(tutela, neighbour, theirs_request).status == "denied"


def test_reverification_gives_a_new_key_for_every_child_and_keeps_the_history(
    store_world: World,
) -> None:
    tutela = store_world.tutela
    maria = enrol(tutela, "Maria", MOTHER)
    ion = enrol(tutela, "Ion", FATHER, MOTHER)
    mother = activate(tutela, MOTHER_DOC, codes_of(maria)[MOTHER_DOC])
    old_address = account_of(tutela, MOTHER_DOC).address
    earlier = ask(tutela, maria.card)
    crossings.decide_as_guardian(tutela, earlier, account_id=mother, approve=True, secret=PIN)
    now = datetime.now(UTC)
    with tutela.database.transaction() as session:
        for token in ("phone", "laptop"):
            session.add(
                PortalSession(
                    id=token, principal="guardian", principal_id=mother, created_at=now,
                    last_seen_at=now,
                )
            )  # fmt: skip
        session.add(
            PortalSession(
                id="other", principal="staff", principal_id=mother, created_at=now,
                last_seen_at=now,
            )
        )  # fmt: skip

    shown = guardians.reverify_guardian(tutela, ion.card, document="md-0877-1290")
    assert (shown.name, shown.document) == ("Elena Popescu", MOTHER_DOC)
    account = account_of(tutela, MOTHER_DOC)
    new_address = account.address
    assert new_address != old_address
    assert (account.id, account.activated_at, account.password_hash) == (mother, None, None)
    assert (account.keystore_password, account.keystore_pin) == (None, None)
    commitment = document_commitment(tutela.commitment_key, MOTHER_DOC)
    for card in (maria.card, ion.card):
        assert chain_document(tutela, card, old_address) == bytes(32)
        assert chain_document(tutela, card, new_address) == commitment
        assert [g.address for g in children.show_child(tutela, card).guardians][-1] == (new_address)
    removed = tutela.registry.events(
        "GuardianRemoved", from_block=0, argument_filters={"guardian": old_address}
    )
    assert len(removed) == 2
    with tutela.database.reading() as session:
        rows = session.scalars(select(Guardian).where(Guardian.account_id == mother)).all()
        ended = {s.id: s.revoked_at for s in session.scalars(select(PortalSession))}
    assert sorted((r.address, r.removed_at is None) for r in rows) == sorted(
        [(old_address, False)] * 2 + [(new_address, True)] * 2
    )
    assert ended["phone"] is not None
    assert ended["laptop"] is not None
    assert ended["other"] is None  # a staff member's session with the same number

    # The earlier decision stays the old address's, in the history.
    [entry] = crossings.history(tutela, maria.card)
    assert [d["guardian"] for d in entry.decisions] == [old_address]

    later = ask(tutela, maria.card, companion="XZ9912002")
    for secret in (PIN, PASSWORD, codes_of(maria)[MOTHER_DOC]):
        with pytest.raises(SignatureError, match="wrong"):
            crossings.decide_as_guardian(
                tutela, later, account_id=mother, approve=True, secret=secret
            )
    activate(tutela, MOTHER_DOC, shown.code, pin=OTHER_PIN)
    decided = crossings.decide_as_guardian(
        tutela, later, guardian_document=MOTHER_DOC, approve=True, secret=OTHER_PIN
    )
    assert decided.status == "approved"
    assert guardians.unlock_guardian_key(tutela, mother, OTHER_PIN).address == new_address
    with tutela.database.reading() as session:
        contexts = [i.context for i in session.scalars(select(OutboxItem))]
    assert not any("previous" in c for c in contexts), "old keystores outlived the replacement"


def test_a_reverification_the_chain_refuses_after_queueing_is_undone(
    tutela: Tutela, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff.add_staff(tutela, "second registrar", "registrar")
    child = enrol(tutela, "Maria", MOTHER, acting_as="registrar")
    mother = activate(tutela, MOTHER_DOC, codes_of(child)[MOTHER_DOC])
    before = state(tutela, MOTHER_DOC)

    def crash(self: Outbox, key: str, timeout: float = 0) -> OutboxItem:
        raise RuntimeError("stopped after the commit")

    with monkeypatch.context() as patch:
        patch.setattr(Outbox, "settle", crash)
        with pytest.raises(RuntimeError):
            guardians.reverify_guardian(
                tutela, child.card, document=MOTHER_DOC, acting_as="registrar"
            )
    assert account_of(tutela, MOTHER_DOC).address != before["address"]
    # Another desk revokes the record before the replacement is mined: the chain refuses it.
    children.revoke_child(tutela, child.card, reason="withdrawn", acting_as="second registrar")
    reconcile_once(tutela.outbox)

    assert state(tutela, MOTHER_DOC) == before
    assert guardians.unlock_guardian_key(tutela, mother, PIN).address == before["address"]
    with tutela.database.reading() as session:
        rows = session.scalars(select(Guardian).where(Guardian.account_id == mother)).all()
    assert [(r.address, r.removed_at) for r in rows] == [(before["address"], None)]


def test_an_enrolment_the_chain_refuses_after_queueing_leaves_no_account(
    tutela: Tutela, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: Outbox, key: str, timeout: float = 0) -> OutboxItem:
        raise RuntimeError("stopped after the commit")

    with monkeypatch.context() as patch:
        patch.setattr(Outbox, "settle", crash)
        with pytest.raises(RuntimeError):
            enrol(tutela, "Maria", MOTHER)
    # The registrar loses the role before the enrolment is mined.
    staff.remove_staff(tutela, "registrar")
    reconcile_once(tutela.outbox)
    with tutela.database.reading() as session:
        assert session.scalars(select(GuardianAccount)).all() == []


def test_the_store_holds_no_guardian_key_that_opens_with_the_data_folders_password(
    tutela: Tutela,
) -> None:
    child = enrol(tutela, "Maria", FATHER, MOTHER)
    activate(tutela, MOTHER_DOC, codes_of(child)[MOTHER_DOC])
    guardians.reverify_guardian(tutela, child.card, document=FATHER_DOC)
    with tutela.database.reading() as session:
        accounts = session.scalars(select(GuardianAccount)).all()
        keystores = [
            keystore
            for a in accounts
            for keystore in (a.keystore_activation, a.keystore_password, a.keystore_pin)
            if keystore is not None
        ]
    assert len(keystores) == 3  # the father's new activation; the mother's password and PIN
    for keystore in keystores:
        with pytest.raises(CryptoError, match="wrong password"):
            unlock_keystore(keystore, tutela.keystore_password)
