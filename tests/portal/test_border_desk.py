"""The border desk: a typed number and a scanned card find the child, a forged card is refused
loudly, a request follows the guardians' answer to its outcome, and every form's refusals."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from PIL import Image

from ledger_client import card_qr
from ledger_client.notify.delivery import DeliveryView
from ledger_client.services import actions, children, crossings, desk_reads, registry_desk
from ledger_client.services.audit import audit_entries
from ledger_client.services.children import ChildView
from ledger_client.services.photos import prepare_photo
from tests.portal.conftest import Portal
from tests.portal.support import csrf_of, submit, text_of

ION = "MD-0912-3345"
ELENA = "MD-0877-1290"
COMPANION = {
    "direction": "exit",
    "border_point": "MD-LEUSENI",
    "companion_name": "Vasile Ursu",
    "companion_document": "AB 123456",
    "expires_in": "60",
}


@dataclass
class Family:
    child: ChildView
    codes: dict[str, str]  # document -> activation code


def enrol_family(portal: Portal) -> Family:
    picture = io.BytesIO()
    Image.new("RGB", (300, 400), (90, 140, 200)).save(picture, format="PNG")
    child = registry_desk.enrol_child(
        portal.tutela,
        photo=prepare_photo(picture.getvalue()),
        given_name="Maria",
        family_name="Popescu",
        birth_date="2016-04-12",
        birth_place="Chișinău",
        guardian_specs=[
            f"Ion Popescu;{ION};ion@example.org;+37369123456",
            f"Elena Popescu;{ELENA};elena@example.org",
        ],
        policy="any",
    )
    return Family(child, {c.document.replace("-", ""): c.code for c in child.activation_codes})


def code_of(family: Family, document: str) -> str:
    return family.codes[document.replace("-", "")]


def today(portal: Portal) -> date:
    return datetime.fromtimestamp(portal.tutela.clock(), UTC).date()


def ask(client: FlaskClient, card: str, **changes: str) -> int:
    """Sends a crossing request from the child's page; returns its number."""
    response = submit(client, f"/border/children/{card}", {**COMPANION, **changes})
    assert response.status_code == 303, text_of(response)
    found = re.search(r"/border/requests/([0-9]+)$", response.headers["Location"])
    assert found
    return int(found.group(1))


def status_of(client: FlaskClient, request_id: int) -> dict[str, Any]:
    answer = client.get(f"/border/requests/{request_id}/status.json")
    assert answer.status_code == 200
    data: dict[str, Any] = answer.get_json()
    return data


def test_a_typed_number_and_a_scanned_card_both_find_the_child(portal: Portal) -> None:
    family = enrol_family(portal)
    card = family.child.card
    client = portal.staff_client("border-officer")
    home = client.get("/border/")
    assert "autofocus" in home.get_data(as_text=True)
    assert "Scan the card or type its number" in text_of(home)

    typed = submit(client, "/border/", {"card": card.replace("-", " ")})
    assert typed.status_code == 303
    assert typed.headers["Location"].endswith(f"/border/children/{card}")

    payload = card_qr.sign_card(portal.tutela.settings, card, family.child.child_id, today(portal))
    # A scanner with Caps Lock off types lower case, and adds a newline.
    scanned = submit(client, "/border/", {"card": payload.lower() + "\n"})
    assert scanned.status_code == 303
    page = client.get(scanned.headers["Location"])
    text = text_of(page)
    assert "Genuine card" in text
    assert "Maria Popescu" in text
    assert "2016-04-12" in text
    assert "years old" in text
    body = page.get_data(as_text=True)
    assert 'src="data:image/jpeg;base64,' in body
    assert 'alt="Photo of the child"' in body
    assert "Ask the guardians" in text
    with portal.tutela.database.reading() as session:
        reads = [e for e in audit_entries(session, subject=card) if e.action == "read-child"]
    assert reads
    assert reads[0].actor == "staff:officer"
    assert reads[0].detail == {"page": "border-child"}


@pytest.mark.parametrize("forgery", ["altered", "other-registry"])
def test_a_forged_card_is_refused_loudly_and_nothing_else_happens(
    portal: Portal, forgery: str
) -> None:
    family = enrol_family(portal)
    card, child_id = family.child.card, family.child.child_id
    if forgery == "altered":
        genuine = card_qr.sign_card(portal.tutela.settings, card, child_id, today(portal))
        # One character of the record id changed: the signature no longer matches.
        parts = genuine.split(":")
        parts[2] = ("0" if parts[2][0] != "0" else "1") + parts[2][1:]
        payload = ":".join(parts)
    else:
        payload = card_qr.sign_card(Ed25519PrivateKey.generate(), card, child_id, today(portal))
    client = portal.staff_client("border-officer")
    before = len(actions.list_actions(portal.tutela))

    refused = submit(client, "/border/", {"card": payload})

    assert refused.status_code == 403
    text = text_of(refused)
    assert "Do not accept this card" in text
    assert "Maria" not in text
    assert len(actions.list_actions(portal.tutela)) == before
    with portal.tutela.database.reading() as session:
        assert audit_entries(session, subject=card) == []


@pytest.mark.parametrize(
    ("typed", "status", "message"),
    [
        ("", 400, "type the 10-digit card number"),
        ("12", 400, "A card number has 10 digits"),
        ("0000000000", 404, "No child has this card number"),
        ("TUTELA9:123", 400, "Type the card number printed on the card"),
        ("TUTELA1:12345", 400, "Type the card number printed on the card"),
        ("x" * 300, 400, "too long"),
    ],
)
def test_a_wrong_card_says_what_to_do_next(
    portal: Portal, typed: str, status: int, message: str
) -> None:
    client = portal.staff_client("border-officer")
    response = submit(client, "/border/", {"card": typed})
    assert response.status_code == status
    assert message in text_of(response)


def test_a_request_follows_the_guardians_approval_to_a_recorded_crossing(portal: Portal) -> None:
    family = enrol_family(portal)
    client = portal.staff_client("border-officer")
    request_id = ask(client, family.child.card)

    page = client.get(f"/border/requests/{request_id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in body
    assert "border.js" in body
    assert "<script>" not in body
    assert "style=" not in body
    text = text_of(page)
    assert "Waiting for the guardians" in text
    assert "Vasile Ursu" in text
    assert "Refresh" in text
    assert "Family rule" not in text
    pending = status_of(client, request_id)
    assert pending["status"] == "pending"
    assert pending["can_cross"] is False
    assert 0 < pending["seconds_left"] <= 3600
    assert "Maria" not in str(pending)  # the poll carries no personal data

    crossings.decide_as_guardian(
        portal.tutela,
        str(request_id),
        approve=True,
        secret=code_of(family, ELENA),
        guardian_document=ELENA,
    )
    approved = status_of(client, request_id)
    assert approved["status"] == "approved"
    assert approved["words"] == "Approved: the child may cross"
    assert approved["can_cross"] is True
    page = client.get(f"/border/requests/{request_id}")
    assert 'http-equiv="refresh"' not in page.get_data(as_text=True)
    assert "Crossed" in text_of(page)

    recorded = submit(
        client,
        f"/border/requests/{request_id}/outcome",
        {"outcome": "crossed"},
        form_page=f"/border/requests/{request_id}",
    )
    assert recorded.status_code == 303
    assert crossings.show_crossing(portal.tutela, request_id).status == "crossed"
    closed = status_of(client, request_id)
    assert closed["status"] == "crossed"
    assert closed["can_turn_back"] is False
    assert "the child crossed" in text_of(client.get(recorded.headers["Location"]))


def test_a_denied_request_can_only_be_turned_back(portal: Portal) -> None:
    family = enrol_family(portal)
    client = portal.staff_client("border-officer")
    request_id = ask(client, family.child.card)
    crossings.decide_as_guardian(
        portal.tutela,
        str(request_id),
        approve=False,
        secret=code_of(family, ION),
        guardian_document=ION,
    )
    page = client.get(f"/border/requests/{request_id}")
    assert "Denied: the child may not cross" in text_of(page)
    assert "turned back" in text_of(page)
    url = f"/border/requests/{request_id}/outcome"
    token = csrf_of(page.get_data(as_text=True))

    crossed = client.post(url, data={"csrf_token": token, "outcome": "crossed"})
    assert crossed.status_code == 409
    assert "not approved" in text_of(crossed)
    nonsense = client.post(url, data={"csrf_token": token, "outcome": "waved-through"})
    assert nonsense.status_code == 400
    assert crossings.show_crossing(portal.tutela, request_id).status == "denied"

    back = client.post(url, data={"csrf_token": token, "outcome": "turned-back"})
    assert back.status_code == 303
    assert crossings.show_crossing(portal.tutela, request_id).status == "turned-back"


def test_an_expired_request_says_so_and_offers_turning_back(portal: Portal) -> None:
    family = enrol_family(portal)
    client = portal.staff_client("border-officer")
    request_id = ask(client, family.child.card, expires_in="1")
    w3 = portal.tutela.w3
    w3.provider.make_request("evm_increaseTime", [120])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    expired = status_of(client, request_id)
    assert expired["status"] == "expired"
    assert "Nobody approved in time" in expired["reason"]
    assert expired["can_cross"] is False
    assert expired["can_turn_back"] is True
    assert "Expired: the child may not cross" in text_of(
        client.get(f"/border/requests/{request_id}")
    )


def test_the_family_rule_is_shown_when_a_guardian_travels_with_the_child(portal: Portal) -> None:
    family = enrol_family(portal)
    client = portal.staff_client("border-officer")
    request_id = ask(
        client, family.child.card, companion_name="Ion Popescu", companion_document=ION
    )
    text = text_of(client.get(f"/border/requests/{request_id}"))
    assert "Family rule: the companion is a guardian" in text
    assert "another guardian or a child-protection officer must approve" in text


def test_an_entry_is_logged_without_guardians_and_recorded(portal: Portal) -> None:
    family = enrol_family(portal)
    client = portal.staff_client("border-officer")
    request_id = ask(client, family.child.card, direction="entry")

    page = client.get(f"/border/requests/{request_id}")
    assert "Entry: no guardian approval needed" in text_of(page)
    assert 'http-equiv="refresh"' not in page.get_data(as_text=True)
    recorded = submit(
        client,
        f"/border/requests/{request_id}/outcome",
        {"outcome": "crossed"},
        form_page=f"/border/requests/{request_id}",
    )
    assert recorded.status_code == 303
    assert crossings.show_crossing(portal.tutela, request_id).status == "crossed"


BAD_REQUESTS = [
    pytest.param(
        {"companion_name": "", "companion_document": "", "expires_in": ""},
        "Write the name of the adult",
        id="empty",
    ),
    pytest.param({"companion_name": "V" * 101}, "At most 100 characters", id="too-long"),
    pytest.param({"companion_document": "АБ-12"}, "Letters A-Z", id="document"),
    pytest.param({"expires_in": "0"}, "From 1 to 10080 minutes", id="expiry-zero"),
    pytest.param({"expires_in": "soon"}, "Write a whole number", id="expiry-words"),
    pytest.param({"direction": "sideways"}, "Choose one of the options", id="direction"),
    pytest.param({"border_point": "XX-NOWHERE"}, "Choose one of the options", id="post"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_REQUESTS)
def test_a_bad_request_says_what_is_wrong_and_sends_nothing(
    portal: Portal, changes: dict[str, str], message: str
) -> None:
    family = enrol_family(portal)
    client = portal.staff_client("border-officer")
    before = len(actions.list_actions(portal.tutela))

    response = submit(client, f"/border/children/{family.child.card}", {**COMPANION, **changes})

    assert response.status_code == 400
    assert message in text_of(response)
    assert len(actions.list_actions(portal.tutela)) == before


def test_a_revoked_card_warns_and_allows_no_request(portal: Portal) -> None:
    family = enrol_family(portal)
    card = family.child.card
    children.revoke_child(portal.tutela, card, reason="Registered twice.", code="duplicate")
    client = portal.staff_client("border-officer")

    page = client.get(f"/border/children/{card}")
    assert "Record status: Revoked. No crossing." in text_of(page)
    assert "Ask the guardians" not in text_of(page)
    before = len(actions.list_actions(portal.tutela))
    token = csrf_of(page.get_data(as_text=True))
    refused = client.post(f"/border/children/{card}", data={"csrf_token": token, **COMPANION})
    assert refused.status_code == 409
    assert "not active" in text_of(refused)
    assert len(actions.list_actions(portal.tutela)) == before


def test_the_border_points_come_from_the_setting(portal: Portal) -> None:
    family = enrol_family(portal)
    portal.app.config["TUTELA_BORDER_POINTS"] = "md-test-north, MD-TEST-SOUTH, not a code!"
    client = portal.staff_client("border-officer")
    body = client.get(f"/border/children/{family.child.card}").get_data(as_text=True)
    assert 'value="MD-TEST-NORTH"' in body
    assert 'value="MD-TEST-SOUTH"' in body
    assert "MD-LEUSENI" not in body
    # The officer's post is remembered for the next child.
    ask(client, family.child.card, border_point="MD-TEST-SOUTH")
    again = client.get(f"/border/children/{family.child.card}").get_data(as_text=True)
    assert re.search(r'<option selected value="MD-TEST-SOUTH"', again)


def nobody_reached_shown(response: Any) -> bool:
    alarm = re.search(r'<div id="nobody-reached"[^>]*>', response.get_data(as_text=True))
    assert alarm
    return " hidden" not in alarm.group()


def test_the_request_page_says_whether_the_guardians_were_reached(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    family = enrol_family(portal)
    client = portal.staff_client("border-officer")
    request_id = ask(client, family.child.card)
    url = f"/border/requests/{request_id}"

    # Queued with the request: an e-mail to each guardian, an SMS to the one with a phone.
    page = client.get(url)
    text = text_of(page)
    assert "E-mail · Ion Popescu · sending" in text
    assert "SMS · Ion Popescu · sending" in text
    assert "E-mail · Elena Popescu · sending" in text
    assert not nobody_reached_shown(page)
    assert status_of(client, request_id)["nobody_reached"] is False

    sent = datetime(2026, 11, 28, 3, 12, tzinfo=UTC)
    ion = [
        DeliveryView(1, "Ion Popescu", "email", "sent", 1, None, sent),
        DeliveryView(1, "Ion Popescu", "sms", "failed", 5, "gateway refused", None),
    ]
    elena = [
        DeliveryView(
            2, "Elena Popescu", "email", "failed", 5, "the mail server refused the recipient", None
        )
    ]
    # Failures stood in for: making a mail server fail is the notification tests' work.
    monkeypatch.setattr(desk_reads, "delivery_status", lambda _t, _r: ion + elena)
    page = client.get(url)
    text = text_of(page)
    assert "E-mail · Ion Popescu · delivered 2026-11-28 03:12 UTC" in text
    assert "1 of 2 guardians could not be reached" in text
    assert not nobody_reached_shown(page)

    monkeypatch.setattr(desk_reads, "delivery_status", lambda _t, _r: ion[1:] + elena)
    page = client.get(url)
    assert nobody_reached_shown(page)
    assert "failed (the mail server did not take the message)" in text_of(page)
    assert status_of(client, request_id)["nobody_reached"] is True

    monkeypatch.setattr(desk_reads, "delivery_status", lambda _t, _r: [])
    assert nobody_reached_shown(client.get(url))


@pytest.mark.parametrize(
    "path",
    [
        "/border/",
        "/border/children/0000000000",
        "/border/requests/1",
        "/border/requests/1/status.json",
    ],
)
def test_the_desk_is_for_border_officers_only(portal: Portal, path: str) -> None:
    for role in ("registrar", "child-protection", "investigator"):
        assert portal.staff_client(role).get(path).status_code == 403
    assert portal.client().get(path).status_code == 302


def test_unknown_requests_and_cards_are_not_found(portal: Portal) -> None:
    client = portal.staff_client("border-officer")
    assert client.get("/border/requests/999").status_code == 404
    assert client.get("/border/requests/999/status.json").status_code == 404
    assert client.get("/border/children/0000000000").status_code == 404


def test_a_record_revoked_after_the_request_forbids_the_crossing(portal: Portal) -> None:
    family = enrol_family(portal)
    client = portal.staff_client("border-officer")
    request_id = ask(client, family.child.card)
    crossings.decide_as_guardian(
        portal.tutela,
        str(request_id),
        approve=True,
        secret=code_of(family, ELENA),
        guardian_document=ELENA,
    )
    children.revoke_child(portal.tutela, family.child.card, reason="Fraud.", code="fraud")

    page = client.get(f"/border/requests/{request_id}")
    assert "stopped being active after this request" in text_of(page)
    crossed = client.post(
        f"/border/requests/{request_id}/outcome",
        data={"csrf_token": csrf_of(page.get_data(as_text=True)), "outcome": "crossed"},
    )
    assert crossed.status_code == 409
    assert "not active" in text_of(crossed)
    assert crossings.show_crossing(portal.tutela, request_id).status == "approved"
