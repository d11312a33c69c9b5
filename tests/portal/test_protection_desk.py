"""The child-protection desk: the requests the family rule holds, co-approval and denial with
the password typed again, court-ordered overrides, and an audit entry for every page."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from ledger_client.services import crossings
from ledger_client.services.audit import audit_entries
from ledger_client.services.context import Tutela
from tests.portal.conftest import STAFF_PASSWORDS, Portal
from tests.portal.support import submit, text_of
from tests.portal.test_guardian_desk import (
    FATHER,
    MOTHER,
    PINS,
    Family,
    activate,
    ask,
    decide,
    enrol,
    guardian_client,
)

PASSWORD = STAFF_PASSWORDS["protector"]
STRANGER_COMPANION = ("Vasile Rotaru", "MD-0101-0202")


@pytest.fixture
def held(portal: Portal) -> tuple[Family, int]:
    """Maria's father travels with her and approved: the family rule holds the request."""
    family = enrol(portal.tutela, "Maria", [FATHER, MOTHER])
    activate(portal.tutela, family, FATHER, MOTHER)
    request_id = ask(portal.tutela, family, ("Ion Popescu", "MD-0912-3345"))
    father = guardian_client(portal, FATHER)
    assert decide(father, request_id, "approve", PINS[FATHER[1]]).status_code == 303
    state = crossings.show_crossing(portal.tutela, request_id)
    assert (state.status, state.family_rule_applied) == ("pending", True)
    return family, request_id


@pytest.fixture
def desk(portal: Portal) -> FlaskClient:
    return portal.staff_client("child-protection")


def reads_of(tutela: Tutela, card: str) -> list[dict[str, object]]:
    with tutela.database.reading() as session:
        return [
            e.detail | {"action": e.action, "actor": e.actor}
            for e in audit_entries(session, subject=card)
        ]


def test_the_queue_shows_the_held_requests_and_is_audited(
    portal: Portal, held: tuple[Family, int], desk: FlaskClient
) -> None:
    family, request_id = held
    # A request nobody has decided is not held: it waits for the guardians.
    other = enrol(portal.tutela, "Andrei", [("Tatiana Ceban", "MD-0455-2201")])
    waiting = ask(portal.tutela, other, STRANGER_COMPANION)
    page = desk.get("/protection/")
    assert page.status_code == 200
    text = text_of(page)
    for fact in ("Maria Popescu", "Ion Popescu", "MD09123345", "MD-LEUSENI", "minutes until"):
        assert fact in text
    assert "Ion Popescu approved, but travels with the child" in text
    assert f"/protection/requests/{request_id}" in page.get_data(as_text=True)
    assert f"/protection/requests/{waiting}" not in page.get_data(as_text=True)
    assert "Andrei" not in text
    [entry] = reads_of(portal.tutela, family.child.card)
    assert entry == {
        "page": "protection.home",
        "request": request_id,
        "action": "read-child",
        "actor": "staff:protector",
    }


def test_an_empty_queue_says_so_and_the_look_is_audited(portal: Portal, desk: FlaskClient) -> None:
    page = desk.get("/protection/")
    assert "No request is waiting for the child-protection desk" in text_of(page)
    [entry] = reads_of(portal.tutela, "protection-queue")
    assert entry["action"] == "read-queue"


def test_a_co_approval_with_the_password_approves(
    portal: Portal, held: tuple[Family, int], desk: FlaskClient
) -> None:
    family, request_id = held
    url = f"/protection/requests/{request_id}"
    page = desk.get(url)
    assert page.status_code == 200
    assert "The family rule holds this request" in text_of(page)
    response = submit(
        desk, f"{url}/decide", {"password": PASSWORD, "decision": "approve"}, form_page=url
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(url)
    after = text_of(desk.get(url))
    assert f"You co-approved request {request_id}. Its status is now: Approved." in after
    assert "The child-protection desk co-approved." in after
    state = crossings.show_crossing(portal.tutela, request_id)
    assert (state.status, state.protection_decided) == ("approved", True)
    # No longer held.
    assert f"/protection/requests/{request_id}" not in desk.get("/protection/").get_data(
        as_text=True
    )
    actions = [e["action"] for e in reads_of(portal.tutela, family.child.card)]
    assert "protection-decision" in actions


def test_a_denial_with_the_password_denies(
    portal: Portal, held: tuple[Family, int], desk: FlaskClient
) -> None:
    _family, request_id = held
    url = f"/protection/requests/{request_id}"
    response = submit(
        desk, f"{url}/decide", {"password": PASSWORD, "decision": "deny"}, form_page=url
    )
    assert response.status_code == 303
    assert "Its status is now: Denied." in text_of(desk.get(url))
    assert crossings.show_crossing(portal.tutela, request_id).status == "denied"


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"password": "", "decision": "approve"}, 400, "Type your password again"),
        ({"password": "x" * 201, "decision": "approve"}, 400, "at most 200 characters"),
        ({"password": PASSWORD, "decision": "maybe"}, 400, "Press Co-approve or Deny"),
        ({"password": "not-the-password-at-all", "decision": "approve"}, 403, "password is wrong"),
    ],
)
def test_a_bad_decision_form_changes_nothing(
    portal: Portal,
    held: tuple[Family, int],
    desk: FlaskClient,
    data: dict[str, str],
    status: int,
    message: str,
) -> None:
    _family, request_id = held
    url = f"/protection/requests/{request_id}"
    response = submit(desk, f"{url}/decide", data, form_page=url)
    assert response.status_code == status
    assert message in text_of(response)
    state = crossings.show_crossing(portal.tutela, request_id)
    assert (state.status, state.protection_decided) == ("pending", False)


def test_a_replayed_co_approval_is_refused(
    portal: Portal, held: tuple[Family, int], desk: FlaskClient
) -> None:
    _family, request_id = held
    url = f"/protection/requests/{request_id}"
    submit(desk, f"{url}/decide", {"password": PASSWORD, "decision": "approve"}, form_page=url)
    again = submit(
        desk, f"{url}/decide", {"password": PASSWORD, "decision": "approve"}, form_page=url
    )
    assert again.status_code == 409
    assert "The child-protection desk has decided this request already" in text_of(again)
    [entry] = crossings.history(portal.tutela, held[0].child.card)
    assert [d["event"] for d in entry.decisions].count("ProtectionDecided") == 1


def test_an_override_by_court_order_allows_the_crossing(
    portal: Portal, held: tuple[Family, int], desk: FlaskClient
) -> None:
    family, request_id = held
    url = f"/protection/requests/{request_id}"
    response = submit(
        desk,
        f"{url}/override",
        {"court_order": "  CH-2026-1234 ", "override_password": PASSWORD},
        form_page=url,
    )
    assert response.status_code == 303
    page = text_of(desk.get(url))
    assert "is allowed by court order. Its status is now: Allowed by court order." in page
    assert crossings.show_crossing(portal.tutela, request_id).status == "overridden"
    done = crossings.record_outcome(
        portal.tutela, str(request_id), outcome="crossed", acting_as="officer"
    )
    assert done.status == "crossed"
    # The reference may name people: the audit log records the act, not the reference.
    entries = reads_of(portal.tutela, family.child.card)
    assert any(e["action"] == "court-override" for e in entries)
    assert "CH-2026-1234" not in repr(entries)


def test_a_court_order_can_lift_a_denial(
    portal: Portal, held: tuple[Family, int], desk: FlaskClient
) -> None:
    _family, request_id = held
    decide(guardian_client(portal, MOTHER), request_id, "deny", PINS[MOTHER[1]])
    url = f"/protection/requests/{request_id}"
    assert "Co-approve" not in text_of(desk.get(url))
    submit(
        desk,
        f"{url}/override",
        {"court_order": "1234/2026", "override_password": PASSWORD},
        form_page=url,
    )
    assert crossings.show_crossing(portal.tutela, request_id).status == "overridden"
    again = submit(
        desk,
        f"{url}/override",
        {"court_order": "1234/2026", "override_password": PASSWORD},
        form_page=url,
    )
    assert again.status_code == 409
    assert "allowed by court order already" in text_of(again)


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"court_order": "", "override_password": PASSWORD}, 400, "Type the court order"),
        ({"court_order": "   ", "override_password": PASSWORD}, 400, "Type the court order"),
        ({"court_order": "C" * 65, "override_password": PASSWORD}, 400, "at most 64 characters"),
        ({"court_order": "CH<script>", "override_password": PASSWORD}, 400, "letters, digits"),
        ({"court_order": "-CH-1", "override_password": PASSWORD}, 400, "letters, digits"),
        ({"court_order": "CH-2026-1234", "override_password": ""}, 400, "Type your password"),
        (
            {"court_order": "CH-2026-1234", "override_password": "not-the-password-at-all"},
            403,
            "password is wrong",
        ),
    ],
)
def test_a_bad_override_changes_nothing(
    portal: Portal,
    held: tuple[Family, int],
    desk: FlaskClient,
    data: dict[str, str],
    status: int,
    message: str,
) -> None:
    _family, request_id = held
    url = f"/protection/requests/{request_id}"
    response = submit(desk, f"{url}/override", data, form_page=url)
    assert response.status_code == status
    assert message in text_of(response)
    assert crossings.show_crossing(portal.tutela, request_id).status == "pending"


def test_the_request_page_is_audited_and_unknown_ids_are_404(
    portal: Portal, held: tuple[Family, int], desk: FlaskClient
) -> None:
    family, request_id = held
    page = desk.get(f"/protection/requests/{request_id}").get_data(as_text=True)
    # Two forms on one page, each with its password field: every id is still unique.
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert page.count('name="csrf_token"') >= 2
    [entry] = reads_of(portal.tutela, family.child.card)
    assert (entry["page"], entry["request"]) == ("protection.request", request_id)
    assert desk.get("/protection/requests/999999").status_code == 404
    assert desk.get("/protection/requests/abc").status_code == 404


def test_a_request_is_found_by_its_number(
    portal: Portal, held: tuple[Family, int], desk: FlaskClient
) -> None:
    _family, request_id = held
    found = desk.get(f"/protection/find?number=%23{request_id}")
    assert found.status_code == 303
    assert found.headers["Location"].endswith(f"/protection/requests/{request_id}")
    bad = desk.get("/protection/find?number=twelve")
    assert bad.status_code == 400
    assert "digits only" in text_of(bad)


@pytest.mark.parametrize("role", ["registrar", "border-officer", "investigator"])
def test_other_staff_may_not_use_the_desk(
    portal: Portal, held: tuple[Family, int], role: str
) -> None:
    _family, request_id = held
    client = portal.staff_client(role)
    assert client.get("/protection/").status_code == 403
    assert client.get(f"/protection/requests/{request_id}").status_code == 403
    response = submit(
        client,
        f"/protection/requests/{request_id}/decide",
        {"password": STAFF_PASSWORDS["protector"], "decision": "approve"},
        form_page="/login",
    )
    assert response.status_code == 403
    assert crossings.show_crossing(portal.tutela, request_id).status == "pending"


def test_guardians_and_visitors_may_not_use_the_desk(
    portal: Portal, held: tuple[Family, int]
) -> None:
    _family, request_id = held
    assert guardian_client(portal, MOTHER).get("/protection/").status_code == 403
    visitor = portal.client()
    assert visitor.get("/protection/").status_code == 302
    assert visitor.post(f"/protection/requests/{request_id}/decide").status_code in (400, 401)
