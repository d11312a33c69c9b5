"""The guardians' desk: activation, the inbox, deciding with the PIN, the family rule, and
that a guardian never reaches another family's child."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from web3.types import RPCEndpoint

from ledger_client.services import children, crossings, guardians
from ledger_client.services.children import ChildView
from ledger_client.services.context import Tutela
from tests.portal.conftest import Portal
from tests.portal.support import csrf_of, log_in_guardian, submit, text_of

FATHER = ("Ion Popescu", "MD-0912-3345")
MOTHER = ("Elena Popescu", "MD-0877-1290")
STRANGER = ("Tatiana Ceban", "MD-0455-2201")
PASSWORDS = {
    FATHER[1]: "father-password-long",
    MOTHER[1]: "mother-password-long",
    STRANGER[1]: "stranger-password-long",
}
PINS = {FATHER[1]: "482915", MOTHER[1]: "730264", STRANGER[1]: "915037"}
WRONG_PIN = "274619"


@dataclass(frozen=True)
class Family:
    child: ChildView
    codes: dict[str, str]  # name -> activation code


def enrol(
    tutela: Tutela,
    given_name: str,
    people: list[tuple[str, str]],
    *,
    policy: str = "any",
) -> Family:
    specs = [
        f"{name};{document};{name.split()[0].lower()}@example.org" for name, document in people
    ]
    child = children.enrol_child(
        tutela,
        given_name=given_name,
        family_name=people[0][0].split()[-1],
        birth_date="2016-04-12",
        birth_place="Chișinău",
        guardian_specs=specs,
        policy=policy,
        acting_as="registrar",
    )
    return Family(child, {c.name: c.code for c in child.activation_codes})


def activate(tutela: Tutela, family: Family, *people: tuple[str, str]) -> None:
    for name, document in people:
        guardians.activate_guardian(
            tutela,
            document=document,
            code=family.codes[name],
            password=PASSWORDS[document],
            pin=PINS[document],
        )


def ask(tutela: Tutela, family: Family, companion: tuple[str, str], minutes: int = 60) -> int:
    view = crossings.request_crossing(
        tutela,
        family.child.card,
        direction="exit",
        border_point="MD-LEUSENI",
        companion_name=companion[0],
        companion_document=companion[1],
        expires_in_minutes=minutes,
        acting_as="officer",
        idempotency_key=str(uuid.uuid4()),
    )
    return view.request


def guardian_client(portal: Portal, person: tuple[str, str]) -> FlaskClient:
    client = portal.client()
    log_in_guardian(client, person[1], PASSWORDS[person[1]])
    return client


def decide(client: FlaskClient, request_id: int, decision: str, pin: str):  # type: ignore[no-untyped-def]
    url = f"/guardian/requests/{request_id}"
    return submit(client, url, {"pin": pin, "decision": decision})


@pytest.fixture
def popescu(portal: Portal) -> Family:
    """Maria, whose father and mother are both activated; either may approve."""
    family = enrol(portal.tutela, "Maria", [FATHER, MOTHER])
    activate(portal.tutela, family, FATHER, MOTHER)
    return family


# ---- activation -------------------------------------------------------------------------------


def test_a_guardian_activates_the_account_and_is_logged_in(portal: Portal) -> None:
    family = enrol(portal.tutela, "Maria", [FATHER])
    client = portal.client()
    response = submit(
        client,
        "/guardian/activate",
        {
            "document": "md 0912 3345",
            "code": family.codes[FATHER[0]].lower(),
            "password": PASSWORDS[FATHER[1]],
            "password_again": PASSWORDS[FATHER[1]],
            "pin": PINS[FATHER[1]],
            "pin_again": PINS[FATHER[1]],
        },
    )
    assert response.status_code == 303, text_of(response)
    assert response.headers["Location"].endswith("/guardian/")
    inbox = client.get("/guardian/")
    assert inbox.status_code == 200
    assert "Your account is active" in text_of(inbox)
    assert "No request is waiting for you" in text_of(inbox)
    # The new password logs in from anywhere.
    log_in_guardian(portal.client(), FATHER[1], PASSWORDS[FATHER[1]])


def test_the_activation_page_needs_no_login_and_works_without_script(portal: Portal) -> None:
    page = portal.client().get("/guardian/activate")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "<script" not in body
    assert "style=" not in body
    assert 'inputmode="numeric"' in body


GOOD = {
    "document": FATHER[1],
    "password": PASSWORDS[FATHER[1]],
    "password_again": PASSWORDS[FATHER[1]],
    "pin": PINS[FATHER[1]],
    "pin_again": PINS[FATHER[1]],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"document": ""}, "Type the number of your identity document"),
        ({"code": ""}, "Type the activation code"),
        ({"code": "ABCD-EFGH-JKMN-PQRS"}, "activation code is wrong"),
        ({"document": "MD-1111-2222"}, "activation code is wrong"),
        ({"document": "x" * 41}, "at most 40 characters"),
        ({"document": "no/such?doc"}, "Check the document number"),
        ({"password": "short", "password_again": "short"}, "at least 15"),
        ({"password_again": "another-password-long"}, "passwords are not the same"),
        ({"pin": "48291", "pin_again": "48291"}, "exactly 6 digits"),
        ({"pin": "48291a", "pin_again": "48291a"}, "exactly 6 digits"),
        ({"pin": "111111", "pin_again": "111111"}, "too easy to guess"),
        ({"pin": "123456", "pin_again": "123456"}, "too easy to guess"),
        ({"pin_again": "482916"}, "PINs are not the same"),
        (
            {"password": "pin-482915-inside", "password_again": "pin-482915-inside"},
            "too easy to guess",
        ),
    ],
)
def test_activation_refuses_bad_input_and_the_code_still_works(
    portal: Portal, change: dict[str, str], message: str
) -> None:
    family = enrol(portal.tutela, "Maria", [FATHER])
    code = family.codes[FATHER[0]]
    client = portal.client()
    refused = submit(client, "/guardian/activate", {**GOOD, "code": code, **change})
    assert 400 <= refused.status_code < 500
    assert message in text_of(refused)
    assert "csrf_token" in refused.get_data(as_text=True)  # the form is shown again
    # Nothing changed: the account is not active, and the same code activates it.
    _unactivated_account(portal)
    activated = submit(client, "/guardian/activate", {**GOOD, "code": code})
    assert activated.status_code == 303, text_of(activated)


def test_an_account_is_activated_once(portal: Portal) -> None:
    family = enrol(portal.tutela, "Maria", [FATHER])
    code = family.codes[FATHER[0]]
    activate(portal.tutela, family, FATHER)
    again = submit(portal.client(), "/guardian/activate", {**GOOD, "code": code})
    assert again.status_code == 409
    assert "activated already" in text_of(again)


# ---- the inbox and a request ------------------------------------------------------------------


def test_the_inbox_shows_the_request_with_its_facts(portal: Portal, popescu: Family) -> None:
    request_id = ask(portal.tutela, popescu, ("Vasile Rotaru", "MD-0101-0202"))
    page = guardian_client(portal, MOTHER).get("/guardian/")
    assert page.status_code == 200
    text = text_of(page)
    for fact in ("Maria Popescu", "Leaving the country", "MD-LEUSENI", "Vasile Rotaru", "officer"):
        assert fact in text
    assert re.search(r"Time left \d+ minutes until \d+ \w+ \d{4}, \d\d:\d\d UTC", text)
    assert "a guardian of the child" not in text
    assert f'href="/guardian/requests/{request_id}"' in page.get_data(as_text=True)


def test_approving_with_the_pin_approves_the_request(portal: Portal, popescu: Family) -> None:
    request_id = ask(portal.tutela, popescu, ("Vasile Rotaru", "MD-0101-0202"))
    client = guardian_client(portal, MOTHER)
    response = decide(client, request_id, "approve", PINS[MOTHER[1]])
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/guardian/requests/{request_id}")
    page = client.get(response.headers["Location"])
    assert "You approved. The border officer sees it now." in text_of(page)
    assert "Approved" in text_of(page)
    assert crossings.show_crossing(portal.tutela, request_id).status == "approved"
    # A decided request leaves the inbox.
    assert "No request is waiting for you" in text_of(client.get("/guardian/"))


def test_denying_with_the_pin_denies_the_request(portal: Portal, popescu: Family) -> None:
    request_id = ask(portal.tutela, popescu, ("Vasile Rotaru", "MD-0101-0202"))
    client = guardian_client(portal, FATHER)
    page = client.get(decide(client, request_id, "deny", PINS[FATHER[1]]).headers["Location"])
    assert "You denied. The border officer sees it now." in text_of(page)
    assert crossings.show_crossing(portal.tutela, request_id).status == "denied"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"pin": "", "decision": "approve"}, "Type your PIN"),
        ({"pin": "12345", "decision": "approve"}, "The PIN is 6 digits"),
        ({"pin": PINS[MOTHER[1]], "decision": "maybe"}, "Press Approve or Deny"),
        ({"pin": WRONG_PIN, "decision": "approve"}, "The PIN is wrong. Nothing was decided."),
    ],
)
def test_a_bad_or_wrong_pin_decides_nothing(
    portal: Portal, popescu: Family, data: dict[str, str], message: str
) -> None:
    request_id = ask(portal.tutela, popescu, ("Vasile Rotaru", "MD-0101-0202"))
    client = guardian_client(portal, MOTHER)
    response = submit(client, f"/guardian/requests/{request_id}", data)
    assert 400 <= response.status_code < 500
    assert message in text_of(response)
    state = crossings.show_crossing(portal.tutela, request_id)
    assert (state.status, state.approvals, state.guardian_approved) == ("pending", 0, False)
    # The right PIN still works afterwards.
    assert decide(client, request_id, "approve", PINS[MOTHER[1]]).status_code == 303


def test_five_wrong_pins_lock_decisions(portal: Portal, popescu: Family) -> None:
    request_id = ask(portal.tutela, popescu, ("Vasile Rotaru", "MD-0101-0202"))
    client = guardian_client(portal, MOTHER)
    for _ in range(4):
        assert decide(client, request_id, "approve", WRONG_PIN).status_code == 403
    locked = decide(client, request_id, "approve", WRONG_PIN)
    assert locked.status_code == 429
    assert "Deciding is locked until" in text_of(locked)
    # Even the right PIN waits now, and nothing was decided.
    still = decide(client, request_id, "approve", PINS[MOTHER[1]])
    assert still.status_code == 429
    assert "locked until" in text_of(still)
    assert "UTC" in text_of(still)
    assert crossings.show_crossing(portal.tutela, request_id).status == "pending"
    page = client.get(f"/guardian/requests/{request_id}")
    assert "Deciding is locked until" in text_of(page)


def test_a_replayed_decision_is_refused_and_nothing_is_doubled(portal: Portal) -> None:
    # Both must approve: after the mother's approval the request is still pending.
    family = enrol(portal.tutela, "Maria", [FATHER, MOTHER], policy="all")
    activate(portal.tutela, family, FATHER, MOTHER)
    request_id = ask(portal.tutela, family, ("Vasile Rotaru", "MD-0101-0202"))
    client = guardian_client(portal, MOTHER)
    url = f"/guardian/requests/{request_id}"
    page = client.get(url).get_data(as_text=True)
    first = submit(client, url, {"pin": PINS[MOTHER[1]], "decision": "approve"}, form_page=url)
    assert first.status_code == 303
    # The same form, posted again (a double tap, the back button, a replayed request).
    replay = client.post(
        url, data={"csrf_token": csrf_of(page), "pin": PINS[MOTHER[1]], "decision": "approve"}
    )
    assert replay.status_code == 409
    assert "You decided this request already" in text_of(replay)
    flipped = decide(client, request_id, "deny", PINS[MOTHER[1]])
    assert "You decided this request already" in text_of(flipped)
    state = crossings.show_crossing(portal.tutela, request_id)
    assert (state.status, state.approvals) == ("pending", 1)
    [entry] = crossings.history(portal.tutela, family.child.card)
    assert len(entry.decisions) == 1


def test_an_expired_request_says_so_and_asks_for_no_pin(portal: Portal, popescu: Family) -> None:
    request_id = ask(portal.tutela, popescu, ("Vasile Rotaru", "MD-0101-0202"), minutes=1)
    _move_chain_time(portal.tutela, 120)
    client = guardian_client(portal, MOTHER)
    page = client.get(f"/guardian/requests/{request_id}")
    assert "Expired" in text_of(page)
    assert 'name="pin"' not in page.get_data(as_text=True)
    late = submit(
        client,
        f"/guardian/requests/{request_id}",
        {"pin": WRONG_PIN, "decision": "approve"},
        form_page="/guardian/",
    )
    assert late.status_code == 409
    assert "This request has expired" in text_of(late)


# ---- the family rule --------------------------------------------------------------------------


def test_a_guardian_travelling_with_the_child_cannot_approve_alone(
    portal: Portal, popescu: Family
) -> None:
    request_id = ask(portal.tutela, popescu, ("Ion Popescu", "md 0912 3345"))
    father = guardian_client(portal, FATHER)
    inbox = text_of(father.get("/guardian/"))
    assert "a guardian of the child" in inbox
    assert "your approval alone is not enough" in inbox
    page = father.get(decide(father, request_id, "approve", PINS[FATHER[1]]).headers["Location"])
    assert "another guardian or a child-protection officer must approve too" in text_of(page)
    state = crossings.show_crossing(portal.tutela, request_id)
    assert (state.status, state.family_rule_applied) == ("pending", True)
    # The mother sees the companion is a guardian, but that her own approval counts.
    mother = guardian_client(portal, MOTHER)
    mother_inbox = text_of(mother.get("/guardian/"))
    assert "That guardian's approval alone is not enough" in mother_inbox
    assert "your approval alone is not enough" not in mother_inbox
    decide(mother, request_id, "approve", PINS[MOTHER[1]])
    assert crossings.show_crossing(portal.tutela, request_id).status == "approved"


# ---- one family never reaches another ---------------------------------------------------------


def test_a_guardian_cannot_see_or_decide_another_familys_request(
    portal: Portal, popescu: Family
) -> None:
    ceban = enrol(portal.tutela, "Andrei", [STRANGER])
    activate(portal.tutela, ceban, STRANGER)
    theirs = ask(portal.tutela, ceban, ("Vasile Rotaru", "MD-0101-0202"))
    client = guardian_client(portal, FATHER)
    unknown = client.get("/guardian/requests/999999")
    other = client.get(f"/guardian/requests/{theirs}")
    assert unknown.status_code == other.status_code == 404
    assert text_of(unknown) == text_of(other)
    assert "Andrei" not in text_of(other)
    posted = submit(
        client,
        f"/guardian/requests/{theirs}",
        {"pin": PINS[FATHER[1]], "decision": "approve"},
        form_page="/guardian/",
    )
    assert posted.status_code == 404
    assert crossings.show_crossing(portal.tutela, theirs).status == "pending"
    assert "Andrei" not in text_of(client.get("/guardian/"))
    history = client.get(f"/guardian/children/{ceban.child.card}/history")
    assert history.status_code == 404
    assert client.get("/guardian/children/not-a-card/history").status_code == 404


def test_the_email_link_brings_a_logged_out_guardian_back_to_the_request(
    portal: Portal, popescu: Family
) -> None:
    request_id = ask(portal.tutela, popescu, ("Vasile Rotaru", "MD-0101-0202"))
    client = portal.client()
    link = f"/guardian/requests/{request_id}"
    redirected = client.get(link)
    assert redirected.status_code == 302
    login_url = redirected.headers["Location"]
    assert "/guardian/login" in login_url
    signed_in = submit(
        client,
        login_url,
        {"document": MOTHER[1], "password": PASSWORDS[MOTHER[1]]},
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == link
    assert "Vasile Rotaru" in text_of(client.get(link))


def test_staff_cannot_use_the_guardian_pages(portal: Portal, popescu: Family) -> None:
    officer = portal.staff_client("border-officer")
    assert officer.get("/guardian/").status_code == 403
    assert officer.get("/guardian/children").status_code == 403


# ---- children and their history ---------------------------------------------------------------


def test_the_history_shows_each_crossing_and_its_decisions(portal: Portal, popescu: Family) -> None:
    request_id = ask(portal.tutela, popescu, ("Ion Popescu", "MD-0912-3345"))
    father = guardian_client(portal, FATHER)
    decide(father, request_id, "approve", PINS[FATHER[1]])
    decide(guardian_client(portal, MOTHER), request_id, "approve", PINS[MOTHER[1]])
    crossings.record_outcome(portal.tutela, str(request_id), outcome="crossed", acting_as="officer")
    listing = father.get("/guardian/children")
    assert "Maria Popescu" in text_of(listing)
    page = father.get(f"/guardian/children/{popescu.child.card}/history")
    assert page.status_code == 200
    text = text_of(page)
    for fact in ("Leaving the country", "MD-LEUSENI", "Crossed the border", "UTC"):
        assert fact in text
    assert "You approved." in text
    assert "Another guardian approved." in text
    assert "did not count alone" in text


# ---- helpers ----------------------------------------------------------------------------------


def _unactivated_account(portal: Portal) -> None:
    """The father's account exists and is still waiting for its activation."""
    from ledger_client.services.guardian_keys import account_by_commitment, commitment_hex

    with portal.tutela.database.reading() as session:
        account = account_by_commitment(session, commitment_hex(portal.tutela, FATHER[1]))
        assert account is not None
        assert account.activated_at is None


def _move_chain_time(tutela: Tutela, seconds: int) -> None:
    tutela.w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
    tutela.w3.provider.make_request(RPCEndpoint("evm_mine"), [])
