"""Who may open what: every route of the portal, for anonymous visitors, a guardian and each
staff role, with the status each must get. Denying is the default: a route missing from
this table fails the test, and so does a view without an access rule."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from ledger_client.identity import normalise_document
from ledger_client.risk.engine import update_flags
from ledger_client.risk.flags import list_flags
from ledger_client.risk.thresholds import RiskThresholds
from ledger_client.services import crossings, guardians
from ledger_client.services.context import Tutela
from tests.portal.conftest import Portal
from tests.portal.support import csrf_of, enrol, log_in_guardian, request_exit, text_of

PRINCIPALS = ["anonymous", "guardian", "registrar", "border-officer", "child-protection",
              "investigator", "auditor"]  # fmt: skip
STAFF_ROLES = PRINCIPALS[2:]
PASSWORD = "a-long-guardian-password"
PIN = "482915"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {card}, {request}, {other_request}, {address}, {flag}
    who: frozenset[str]  # who may use it; "public" for everyone
    ok: int  # what those who may get (POSTs carry a CSRF token and an empty form)


def route(method: str, path: str, who: str | set[str], ok: int) -> Route:
    return Route(method, path, frozenset({who} if isinstance(who, str) else who), ok)


ANY_USER = {"guardian", *STAFF_ROLES}
ROUTES = [
    route("GET", "/healthz", "public", 200),
    route("GET", "/login", "public", 200),
    route("POST", "/login", "public", 400),
    route("GET", "/guardian/login", "public", 200),
    route("POST", "/guardian/login", "public", 400),
    route("GET", "/guardian/activate", "public", 200),
    route("POST", "/guardian/activate", "public", 400),
    route("POST", "/language", "public", 303),
    route("POST", "/logout", ANY_USER, 303),
    route("POST", "/sms/inbound", "public", 403),  # unsigned: the gateway's HMAC is missing
    route("GET", "/guardian/", "guardian", 200),
    route("GET", "/guardian/children", "guardian", 200),
    route("GET", "/guardian/children/{card}/history", "guardian", 200),
    route("GET", "/guardian/requests/{request}", "guardian", 200),
    route("POST", "/guardian/requests/{request}", "guardian", 400),
    route("GET", "/registry/", "registrar", 200),
    route("GET", "/registry/enrol", "registrar", 200),
    route("POST", "/registry/enrol", "registrar", 400),
    route("GET", "/registry/children/{card}", "registrar", 200),
    route("GET", "/registry/children/{card}/card", "registrar", 200),
    route("GET", "/registry/children/{card}/photo", "registrar", 200),
    route("POST", "/registry/children/{card}/photo", "registrar", 400),
    route("GET", "/registry/children/{card}/correct", "registrar", 200),
    route("POST", "/registry/children/{card}/correct", "registrar", 400),
    route("GET", "/registry/children/{card}/revoke", "registrar", 200),
    route("POST", "/registry/children/{card}/revoke", "registrar", 400),
    route("GET", "/registry/children/{card}/guardians/add", "registrar", 200),
    route("POST", "/registry/children/{card}/guardians/add", "registrar", 400),
    route("GET", "/registry/children/{card}/guardians/{address}/remove", "registrar", 200),
    # The child's only guardian: refused before the form is read.
    route("POST", "/registry/children/{card}/guardians/{address}/remove", "registrar", 409),
    route("GET", "/registry/children/{card}/guardians/{address}/reverify", "registrar", 200),
    route("POST", "/registry/children/{card}/guardians/{address}/reverify", "registrar", 400),
    route("GET", "/border/", "border-officer", 200),
    route("POST", "/border/", "border-officer", 400),
    route("GET", "/border/children/{card}", "border-officer", 200),
    route("POST", "/border/children/{card}", "border-officer", 400),
    route("GET", "/border/requests/{request}", "border-officer", 200),
    route("GET", "/border/requests/{request}/status.json", "border-officer", 200),
    route("POST", "/border/requests/{request}/outcome", "border-officer", 400),
    route("GET", "/protection/", "child-protection", 200),
    route("GET", "/protection/find", "child-protection", 400),  # no request number given
    route("GET", "/protection/requests/{request}", "child-protection", 200),
    route("POST", "/protection/requests/{request}/decide", "child-protection", 400),
    route("POST", "/protection/requests/{request}/override", "child-protection", 400),
    route("GET", "/investigate/", "investigator", 200),
    route("POST", "/investigate/search", "investigator", 400),
    # No case is held for the session yet: the case is asked for first.
    route("GET", "/investigate/children/{card}/timeline", "investigator", 200),
    route("POST", "/investigate/children/{card}/timeline", "investigator", 400),
    route("POST", "/investigate/check", "investigator", 400),
    route("GET", "/investigate/links", "investigator", 200),
    route("POST", "/investigate/links", "investigator", 400),
    route("POST", "/investigate/export.csv", "investigator", 400),
    route("POST", "/investigate/report", "investigator", 400),
    route("GET", "/investigate/flags", "investigator", 200),
    route("GET", "/investigate/flags/{flag}", "investigator", 200),
    route("POST", "/investigate/flags/{flag}/review", "investigator", 400),
    route("GET", "/audit/", "auditor", 200),
    route("POST", "/audit/verify", "auditor", 200),
]
# The start page sends a signed-in user to their desk.
START_PAGE = {"anonymous": 200, "investigator": 302, "guardian": 302, "registrar": 302,
              "border-officer": 302, "child-protection": 302, "auditor": 302}  # fmt: skip


def expected(entry: Route, who: str) -> int:
    if "public" in entry.who or who in entry.who:
        return entry.ok
    if who == "anonymous":
        return 302 if entry.method == "GET" else 401  # to the login page; a POST is refused
    return 403


@pytest.fixture
def scene(portal: Portal) -> dict[str, str]:
    """Two families, each child with a pending request; the guardian of the first logs in."""
    tutela = portal.tutela
    values = {}
    for family, document in (("Rusu", "MD-0877-1290"), ("Ceban", "MD-0455-2201")):
        child = enrol(
            tutela, f"Elena {family};{document};{family.lower()}@example.org", family_name=family
        )
        request = request_exit(tutela, child.card)
        if family == "Rusu":
            (code,) = child.activation_codes
            guardians.activate_guardian(
                tutela,
                document=normalise_document(document),
                code=code.code,
                password=PASSWORD,
                pin=PIN,
            )
            values.update(card=child.card, request=str(request), address=child.guardians[0].address)
        else:
            values["other_request"] = str(request)
    values["flag"] = str(_a_flag(tutela))
    return values


def _a_flag(tutela: Tutela) -> int:
    """A risk flag to open: at a threshold of one exit, every child who left is flagged."""
    tutela.refresh_index()
    with tutela.database.transaction() as session:
        update_flags(session, RiskThresholds(frequent_crossings=1))
    with tutela.database.reading() as session:
        return list_flags(session)[0].id


def _client(portal: Portal, who: str) -> FlaskClient:
    if who == "anonymous":
        return portal.client()
    if who == "guardian":
        client = portal.client()
        log_in_guardian(client, "MD-0877-1290", PASSWORD)
        return client
    return portal.staff_client(who)


def test_every_route_is_in_the_table_and_every_view_has_an_access_rule(portal: Portal) -> None:
    app = portal.app
    served = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = {(e.method, _rule_of(e.path)) for e in ROUTES} | {("GET", "/")}
    assert served == listed, f"not in the table: {served - listed}; gone: {listed - served}"
    unguarded = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and getattr(view, "_tutela_access", None) is None
    ]
    assert not unguarded


def test_each_principal_gets_the_expected_status_on_every_route(
    portal: Portal, scene: dict[str, str]
) -> None:
    wrong = []
    for who in PRINCIPALS:
        client = _client(portal, who)
        token = csrf_of(client.get("/login").get_data(as_text=True))
        start = client.get("/").status_code
        if start != START_PAGE[who]:
            wrong.append(f"{who} GET / -> {start}, expected {START_PAGE[who]}")
        # Logging out would end the session the rest of the rows need: it goes last.
        for entry in sorted(ROUTES, key=lambda e: e.path == "/logout"):
            path = entry.path.format(**scene)
            if entry.method == "GET":
                status = client.get(path).status_code
            else:
                status = client.post(path, data={"csrf_token": token}).status_code
            if status != expected(entry, who):
                wrong.append(
                    f"{who} {entry.method} {path} -> {status}, expected {expected(entry, who)}"
                )
    assert not wrong, "\n".join(wrong)


def test_a_guardian_cannot_reach_another_familys_request_by_changing_the_id(
    portal: Portal, scene: dict[str, str]
) -> None:
    client = _client(portal, "guardian")
    other = f"/guardian/requests/{scene['other_request']}"
    assert client.get(other).status_code == 404
    token = csrf_of(client.get(f"/guardian/requests/{scene['request']}").get_data(as_text=True))
    decided = client.post(other, data={"csrf_token": token, "pin": PIN, "decision": "approve"})
    assert decided.status_code == 404
    assert crossings.show_crossing(portal.tutela, scene["other_request"]).status == "pending"
    unknown = client.get("/guardian/requests/999999")
    assert unknown.status_code == 404
    assert text_of(unknown) == text_of(client.get(other))


def _rule_of(path: str) -> str:
    return (
        path.replace("{card}", "<card>")
        .replace("{request}", "<int:request_id>")
        .replace("{address}", "<address>")
        .replace("{flag}", "<int:flag_id>")
    )
