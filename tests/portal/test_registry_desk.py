"""The registry desk: enrol a child with a photo, the receipt's one-time codes, the child's
audited record, the printed card's signed QR code, and every form's refusals."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from ledger_client import card_qr
from ledger_client.services import actions, children, desk_reads, guardians
from ledger_client.services.audit import audit_entries
from ledger_client.services.photos import load_photo
from tests.portal.conftest import Portal
from tests.portal.support import csrf_of, submit, text_of

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
CARD = re.compile(r"\b[0-9]{4}-[0-9]{4}-[0-9]{2}\b")
CHILD = {
    "given_name": "Maria",
    "family_name": "Popescu",
    "birth_date": "2016-04-12",
    "birth_place": "Chișinău",
}
GUARDIANS = {
    "guardians-0-name": "Ion Popescu",
    "guardians-0-document": "MD-0912-3345",
    "guardians-0-email": "ion.popescu@example.org",
    "guardians-0-phone": "+373 69 123 456",
    "guardians-1-name": "Elena Popescu",
    "guardians-1-document": "MD 0877 1290",
    "guardians-1-email": "elena.popescu@example.org",
    "guardians-1-phone": "",
}


def png(size: tuple[int, int] = (300, 400)) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", size, (200, 120, 60)).save(output, format="PNG")
    return output.getvalue()


def enrolment(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {**CHILD, **GUARDIANS, "policy": "any", "approvals": ""}
    data["photo"] = (io.BytesIO(png()), "maria.png")
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def enrol(client: FlaskClient, **changes: Any) -> str:
    """Enrols through the form; returns the new card number."""
    response = submit(client, "/registry/enrol", enrolment(**changes))
    assert response.status_code == 200, text_of(response)
    found = CARD.search(text_of(response))
    assert found
    return found.group()


def session_of(portal: Portal, client: FlaskClient) -> dict[str, Any]:
    cookie = client.get_cookie("tutela")
    assert cookie is not None
    serializer = portal.app.session_interface.get_signing_serializer(portal.app)  # type: ignore[attr-defined]
    loaded: dict[str, Any] = serializer.loads(cookie.value)
    return loaded


def test_enrolment_with_a_photo_shows_each_code_once_on_a_printable_receipt(
    portal: Portal,
) -> None:
    client = portal.staff_client("registrar")
    form = client.get("/registry/enrol").get_data(as_text=True)
    form_id = re.search(r'name="form_id"[^>]*value="([^"]+)"', form)
    assert form_id
    data = enrolment(form_id=form_id.group(1))
    response = submit(client, "/registry/enrol", data)

    assert response.status_code == 200
    receipt = text_of(response)
    card = CARD.search(receipt)
    assert card
    codes = CODE.findall(receipt)
    assert len(codes) == 2
    assert "Ion Popescu" in receipt
    assert "Elena Popescu" in receipt
    assert "Print the ID card" in receipt
    # Never kept in the cookie session, and stored nowhere to show again.
    assert not any(code in str(session_of(portal, client)) for code in codes)
    child = children.show_child(portal.tutela, card.group())
    photo = load_photo(portal.tutela, child.child_id)
    assert photo is not None
    assert photo.content_type == "image/jpeg"
    assert [g.phone for g in child.guardians] == ["+37369123456", None]

    # The browser's reload sends the same form again: no second child, no codes.
    before = len(actions.list_actions(portal.tutela))
    data["photo"] = (io.BytesIO(png()), "maria.png")
    again = submit(client, "/registry/enrol", data)
    assert again.status_code == 303
    page = client.get(again.headers["Location"])
    assert page.status_code == 200
    assert "shown only once" in text_of(page)
    assert not CODE.search(text_of(page))
    assert len(actions.list_actions(portal.tutela)) == before

    # The code printed on the receipt is the one that activates the guardian.
    activated = guardians.activate_guardian(
        portal.tutela,
        document="MD-0912-3345",
        code=codes[0],
        password="a long enough password",
        pin="402871",
    )
    assert activated is not None


def test_the_child_page_shows_the_record_and_writes_an_audit_entry(portal: Portal) -> None:
    client = portal.staff_client("registrar")
    card = enrol(client)

    page = client.get(f"/registry/children/{card}")

    assert page.status_code == 200
    text = text_of(page)
    for expected in ("Maria", "Popescu", "2016-04-12", "Chișinău", "Active", "Ion Popescu"):
        assert expected in text
    body = page.get_data(as_text=True)
    assert 'src="data:image/jpeg;base64,' in body
    assert 'alt="Photo of the child"' in body
    for action in ("Print the ID card", "Add a guardian", "Correct", "Revoke", "Lost password"):
        assert action in text
    with portal.tutela.database.reading() as session:
        entries = audit_entries(session, subject=card)
    reads = [e for e in entries if e.action == "read-child"]
    assert reads
    assert reads[0].actor == "staff:registrar"
    assert reads[0].detail["page"] == "registry-child"
    # The log says who read which record, never what it holds.
    assert "Maria" not in str(reads[0].detail)


def test_the_printed_card_carries_a_qr_code_whose_payload_the_registry_signed(
    portal: Portal,
) -> None:
    client = portal.staff_client("registrar")
    card = enrol(client)
    child = children.show_child(portal.tutela, card)

    page = client.get(f"/registry/children/{card}/card")

    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'class="idcard"' in body
    assert "<svg" in body
    assert card in body
    issued = re.search(r"Issued ([0-9]{4}-[0-9]{2}-[0-9]{2})", text_of(page))
    assert issued
    from datetime import date

    payload = card_qr.sign_card(
        portal.tutela.settings, card, child.child_id, date.fromisoformat(issued.group(1))
    )
    expected = card_qr.qr_svg(payload)
    drawn = re.search(r' d="([^"]+)"', expected)
    assert drawn
    assert drawn.group(1) in body
    scanned = card_qr.verify_card(card_qr.card_public_key_hex(portal.tutela.settings), payload)
    assert scanned.card == card.replace("-", "")
    assert scanned.child_id == child.child_id
    with portal.tutela.database.reading() as session:
        assert any(e.action == "print-card" for e in audit_entries(session, subject=card))


def test_a_likely_duplicate_is_warned_about_and_enrolled_only_when_confirmed(
    portal: Portal,
) -> None:
    client = portal.staff_client("registrar")
    first = enrol(client)
    other_place = enrolment(
        birth_place="Bălți",
        **{"guardians-0-document": "AB123", "guardians-1-document": "AB124"},
    )
    before = len(actions.list_actions(portal.tutela))

    warned = submit(client, "/registry/enrol", other_place)

    assert warned.status_code == 409
    assert "same name and birth date" in text_of(warned)
    assert f'href="/registry/children/{first}"' in warned.get_data(as_text=True)
    assert "Enrol anyway" in text_of(warned)
    assert "Choose the photo again" in text_of(warned)
    assert len(actions.list_actions(portal.tutela)) == before

    other_place["photo"] = (io.BytesIO(png()), "maria.png")
    confirmed = submit(client, "/registry/enrol", {**other_place, "enrol_anyway": "y"})
    assert confirmed.status_code == 200, text_of(confirmed)
    assert "Receipt" in text_of(confirmed)
    assert len(desk_reads.similar_children(portal.tutela, "MARIA", "popescu", "2016-04-12")) == 2

    # The very same child (birth place too) is refused by the registry, whatever is ticked.
    same = enrolment(**{"guardians-0-document": "AB125", "guardians-1-document": "AB126"})
    before = len(actions.list_actions(portal.tutela))
    refused = submit(client, "/registry/enrol", {**same, "enrol_anyway": "y"})
    assert refused.status_code == 409
    assert "registered already, with the same name, birth date and birth place" in text_of(refused)
    assert f'href="/registry/children/{first}"' in refused.get_data(as_text=True)
    assert len(actions.list_actions(portal.tutela)) == before


BAD_ENROLMENTS = [
    pytest.param(
        {**{k: "" for k in CHILD}, **{k: "" for k in GUARDIANS}},
        "Write the child's given name.",
        id="empty",
    ),
    pytest.param({"given_name": "M" * 101}, "At most 100 characters", id="too-long"),
    pytest.param({"birth_date": "12/04/2016"}, "YYYY-MM-DD", id="malformed-date"),
    pytest.param({"birth_date": "2099-01-01"}, "in the future", id="future-date"),
    pytest.param({"birth_date": "2001-01-01"}, "under 18", id="adult"),
    pytest.param({"guardians-0-email": "ion.popescu"}, "e-mail address such as", id="email"),
    pytest.param(
        {"guardians-1-document": "md-0912 3345"}, "given for another guardian", id="same-document"
    ),
    pytest.param({"guardians-0-document": "МД-12"}, "Letters A-Z", id="cyrillic-document"),
    pytest.param({"guardians-0-phone": "12"}, "country code", id="phone"),
    pytest.param({"guardians-1-email": ""}, "Write the guardian's e-mail", id="half-guardian"),
    pytest.param({"policy": "most"}, "Choose one of the options", id="wrong-policy"),
    pytest.param({"policy": "k-of-n", "approvals": "3"}, "1 to the number", id="k-too-big"),
    pytest.param(
        {"photo": (io.BytesIO(b"%PDF-1.4 not a photo"), "maria.png")}, "JPEG or PNG", id="photo"
    ),
]


@pytest.mark.parametrize(("changes", "message"), BAD_ENROLMENTS)
def test_a_bad_enrolment_says_what_is_wrong_and_changes_nothing(
    portal: Portal, changes: dict[str, Any], message: str
) -> None:
    client = portal.staff_client("registrar")
    before = len(actions.list_actions(portal.tutela))

    response = submit(client, "/registry/enrol", enrolment(**changes))

    assert response.status_code == 400
    assert message in text_of(response)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert len(actions.list_actions(portal.tutela)) == before
    assert desk_reads.similar_children(portal.tutela, "Maria", "Popescu", "2016-04-12") == []


def test_unknown_and_malformed_cards_are_told_apart(portal: Portal) -> None:
    client = portal.staff_client("registrar")
    malformed = client.get("/registry/?card=1234")
    assert malformed.status_code == 400
    assert "10 digits" in text_of(malformed)
    unknown = client.get("/registry/?card=0000000000")
    assert unknown.status_code == 404
    assert "No child has this card number" in text_of(unknown)
    assert client.get("/registry/children/0000000000").status_code == 404
    card = enrol(client)
    found = client.get(f"/registry/?card={card.replace('-', ' ')}")
    assert found.status_code == 303
    assert found.headers["Location"].endswith(f"/registry/children/{card}")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/registry/"),
        ("get", "/registry/enrol"),
        ("post", "/registry/enrol"),
        ("get", "/registry/children/0000000000"),
        ("get", "/registry/children/0000000000/card"),
        ("post", "/registry/children/0000000000/revoke"),
    ],
)
def test_the_desk_is_for_registry_officials_only(portal: Portal, method: str, path: str) -> None:
    for role in ("border-officer", "child-protection", "investigator"):
        client = portal.staff_client(role)
        # A valid CSRF token, so that it is the role that is refused, not the form.
        token = csrf_of(client.get("/", follow_redirects=True).get_data(as_text=True))
        answer = getattr(client, method)(path, data={"csrf_token": token})
        assert answer.status_code == 403
    stranger = portal.client()
    token = csrf_of(stranger.get("/login").get_data(as_text=True))
    anonymous = getattr(stranger, method)(path, data={"csrf_token": token})
    assert anonymous.status_code == (302 if method == "get" else 401)


def test_guardians_are_added_removed_and_reverified_with_codes_shown_once(
    portal: Portal,
) -> None:
    client = portal.staff_client("registrar")
    card = enrol(client)
    url = f"/registry/children/{card}/guardians/add"

    bad = submit(client, url, {"name": "", "document": "X", "email": "nope", "phone": ""})
    assert bad.status_code == 400
    assert "Write the guardian's name." in text_of(bad)
    duplicate = submit(
        client,
        url,
        {"name": "Ion", "document": "MD09123345", "email": "i@example.org", "phone": ""},
    )
    assert duplicate.status_code == 409
    assert "guardians already" in text_of(duplicate)
    assert len(children.show_child(portal.tutela, card).guardians) == 2

    added = submit(
        client,
        url,
        {"name": "Vera Rusu", "document": "MD-1111-2222", "email": "v@example.org", "phone": ""},
    )
    assert added.status_code == 200
    assert len(CODE.findall(text_of(added))) == 1
    child = children.show_child(portal.tutela, card)
    assert [g.name for g in child.guardians][-1] == "Vera Rusu"

    vera = child.guardians[-1]
    remove = f"/registry/children/{card}/guardians/{vera.address}/remove"
    assert "Vera Rusu" in text_of(client.get(remove))
    removed = submit(client, remove, {})
    assert removed.status_code == 303
    assert [g.name for g in children.show_child(portal.tutela, card).guardians] == [
        "Ion Popescu",
        "Elena Popescu",
    ]

    ion = child.guardians[0]
    reverify = f"/registry/children/{card}/guardians/{ion.address}/reverify"
    unticked = submit(client, reverify, {})
    assert unticked.status_code == 400
    assert "in person" in text_of(unticked)
    page = client.get(reverify).get_data(as_text=True)
    form_id = re.search(r'name="form_id"[^>]*value="([^"]+)"', page)
    assert form_id
    data = {"seen_in_person": "y", "form_id": form_id.group(1)}
    shown = submit(client, reverify, data)
    assert shown.status_code == 200
    assert len(CODE.findall(text_of(shown))) == 1
    # The reload goes to the same address, although the guardian's key (and address) is new.
    reload = client.post(reverify, data={**data, "csrf_token": csrf_of(page)})
    assert reload.status_code == 303
    assert not CODE.search(text_of(client.get(reload.headers["Location"])))


def test_correcting_keeps_the_photo_and_the_old_card_leads_to_the_new_record(
    portal: Portal,
) -> None:
    client = portal.staff_client("registrar")
    card = enrol(client)
    url = f"/registry/children/{card}/correct"
    unchanged = submit(client, url, CHILD)
    assert unchanged.status_code == 400
    assert "Nothing to correct" in text_of(unchanged)
    future = submit(client, url, {**CHILD, "birth_date": "2999-01-01"})
    assert future.status_code == 400
    assert "in the future" in text_of(future)

    corrected = submit(client, url, {**CHILD, "birth_place": "Bălți"})

    assert corrected.status_code == 303
    after = children.show_child(portal.tutela, card)
    assert after.card != card
    assert after.birth_place == "Bălți"
    assert load_photo(portal.tutela, after.child_id) is not None
    old = client.get(f"/registry/children/{card}")
    assert "earlier version of this record" in text_of(old)


def test_revoking_needs_a_reason_and_a_revoked_record_cannot_be_printed(
    portal: Portal,
) -> None:
    client = portal.staff_client("registrar")
    card = enrol(client)
    url = f"/registry/children/{card}/revoke"
    no_reason = submit(client, url, {"code": "duplicate", "reason": ""})
    assert no_reason.status_code == 400
    assert "Explain why" in text_of(no_reason)
    wrong_code = submit(client, url, {"code": "bored", "reason": "x"})
    assert wrong_code.status_code == 400
    assert children.show_child(portal.tutela, card).status == "active"

    revoked = submit(client, url, {"code": "duplicate", "reason": "Enrolled twice by mistake."})

    assert revoked.status_code == 303
    assert children.show_child(portal.tutela, card).status == "revoked"
    page = client.get(f"/registry/children/{card}")
    assert "This record is revoked" in text_of(page)
    assert "Print the ID card" not in text_of(page)
    for action in ("guardians/add", "correct", "revoke", "photo"):
        moved = client.get(f"/registry/children/{card}/{action}")
        assert moved.status_code == 303
    assert "not active: it can no longer change" in text_of(client.get(moved.headers["Location"]))
    printed = client.get(f"/registry/children/{card}/card")
    assert printed.status_code == 409
    assert "<svg" not in printed.get_data(as_text=True)


def test_a_photo_can_be_added_later_and_a_bad_one_is_refused(portal: Portal) -> None:
    client = portal.staff_client("registrar")
    card = enrol(client, photo=None)
    child = children.show_child(portal.tutela, card)
    assert load_photo(portal.tutela, child.child_id) is None
    url = f"/registry/children/{card}/photo"

    refused = submit(client, url, {"photo": (io.BytesIO(b"GIF89a"), "x.gif")})
    assert refused.status_code == 400
    assert "JPEG or PNG" in text_of(refused)
    assert load_photo(portal.tutela, child.child_id) is None

    saved = submit(client, url, {"photo": (io.BytesIO(png()), "maria.png")})
    assert saved.status_code == 303
    assert load_photo(portal.tutela, child.child_id) is not None
