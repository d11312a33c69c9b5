"""The investigator's workbench: search under a case, a child's timeline with its proofs and
a check on the ledger, the links picture and the exports (the flags: test_investigate_flags)."""

from __future__ import annotations

import csv
import io
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from ledger_client.indexer.tables import ChainRequest
from ledger_client.services import crossings
from ledger_client.services.audit import audit_entries
from ledger_client.services.context import Tutela
from tests.portal.conftest import Portal
from tests.portal.support import csrf_of, submit, text_of
from tests.portal.test_guardian_desk import FATHER, MOTHER, STRANGER, enrol

CASE = {"case_number": "PN-2026/0412", "reason": "Report from the Leușeni post about a man"}
VASILE = ("Vasile Lupu", "MD-5555-0001")
SVG = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class Scene:
    maria_card: str
    andrei_card: str
    maria_with_vasile: int  # exit at MD-LEUSENI
    andrei_with_vasile: int  # exit at MD-SCULENI
    maria_with_father: int  # exit at MD-LEUSENI, the companion is a guardian
    andrei_entry: int  # entry at MD-SCULENI, recorded "crossed"


def ask(
    tutela: Tutela, card: str, companion: tuple[str, str], point: str, direction: str = "exit"
) -> int:
    return crossings.request_crossing(
        tutela,
        card,
        direction=direction,
        border_point=point,
        companion_name=companion[0],
        companion_document=companion[1],
        acting_as="officer",
        idempotency_key=str(uuid.uuid4()),
    ).request


@pytest.fixture
def scene(portal: Portal) -> Scene:
    """Vasile Lupu travels with Maria Popescu and with Andrei Ceban; Maria's father travels
    with her once; Andrei comes back in and is recorded as crossed."""
    tutela = portal.tutela
    maria = enrol(tutela, "Maria", [FATHER, MOTHER]).child
    andrei = enrol(tutela, "Andrei", [STRANGER]).child
    first = ask(tutela, maria.card, VASILE, "MD-LEUSENI")
    second = ask(tutela, andrei.card, VASILE, "MD-SCULENI")
    third = ask(tutela, maria.card, FATHER, "MD-LEUSENI")
    entry = ask(tutela, andrei.card, STRANGER, "MD-SCULENI", direction="entry")
    crossings.record_outcome(tutela, str(entry), outcome="crossed", acting_as="officer")
    return Scene(maria.card, andrei.card, first, second, third, entry)


@pytest.fixture
def desk(portal: Portal) -> FlaskClient:
    return portal.staff_client("investigator")


def search(desk: FlaskClient, **criteria: str):  # type: ignore[no-untyped-def]
    return submit(desk, "/investigate/search", {**CASE, **criteria}, form_page="/investigate/")


def found_requests(response) -> set[int]:  # type: ignore[no-untyped-def]
    return {int(n) for n in re.findall(r"#request-(\d+)\"", response.get_data(as_text=True))}


def audited(tutela: Tutela, action: str) -> list:  # type: ignore[type-arg]
    with tutela.database.reading() as session:
        return [e for e in audit_entries(session, limit=500) if e.action == action]


def test_the_workbench_has_the_search_form_and_the_open_flags(desk: FlaskClient) -> None:
    page = desk.get("/investigate/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("case_number", "reason", "card", "child_name", "birth_date", "companion_name",
                 "companion_document", "guardian_name", "guardian_document", "border_point",
                 "date_from", "date_to", "outcome"):  # fmt: skip
        assert f'name="{name}"' in html
    assert 'method="post" action="/investigate/search"' in html
    assert "Open risk flags" in text_of(page)


def test_the_investigator_lands_on_the_workbench_after_logging_in(portal: Portal) -> None:
    desk = portal.staff_client("investigator")
    assert desk.get("/").headers["Location"].endswith("/investigate/")


TODAY = datetime.now(UTC).date()


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"card": "maria"}, {"maria_with_vasile", "maria_with_father"}),
        ({"child_name": "Andrei Ceban"}, {"andrei_with_vasile", "andrei_entry"}),
        (
            {"child_name": "Maria Popescu", "birth_date": "2016-04-12"},
            {"maria_with_vasile", "maria_with_father"},
        ),
        ({"birth_date": "2001-01-01"}, set()),
        ({"companion_name": "Vasile Lupu"}, {"maria_with_vasile", "andrei_with_vasile"}),
        ({"companion_document": "md 5555 0001"}, {"maria_with_vasile", "andrei_with_vasile"}),
        ({"guardian_name": "Tatiana Ceban"}, {"andrei_with_vasile", "andrei_entry"}),
        ({"guardian_document": MOTHER[1]}, {"maria_with_vasile", "maria_with_father"}),
        ({"border_point": "md-sculeni"}, {"andrei_with_vasile", "andrei_entry"}),
        (
            {
                "date_from": (TODAY - timedelta(days=1)).isoformat(),
                "date_to": (TODAY + timedelta(days=1)).isoformat(),
            },
            {"maria_with_vasile", "andrei_with_vasile", "maria_with_father", "andrei_entry"},
        ),
        ({"date_from": "2020-01-01", "date_to": "2020-12-31"}, set()),
        ({"outcome": "crossed"}, {"andrei_entry"}),
        (
            {"outcome": "pending", "companion_name": "Vasile Lupu"},
            {"maria_with_vasile", "andrei_with_vasile"},
        ),
    ],
)
def test_each_criterion_finds_its_crossings(
    scene: Scene, desk: FlaskClient, criteria: dict[str, str], expected: set[str]
) -> None:
    if criteria.get("card") == "maria":
        criteria = {"card": scene.maria_card}
    response = search(desk, **criteria)
    assert response.status_code == 200, text_of(response)
    assert found_requests(response) == {getattr(scene, name) for name in expected}
    if not expected:
        assert "No crossing matches." in text_of(response)


def test_the_results_show_the_facts_the_guardian_badge_and_the_proof(
    portal: Portal, scene: Scene, desk: FlaskClient
) -> None:
    response = search(desk, card=scene.maria_card)
    text = text_of(response)
    for fact in ("Maria Popescu", "Vasile Lupu", "MD55550001", "Ion Popescu", "MD-LEUSENI",
                 "Leaving the country", "Waiting for a decision", "Case PN-2026/0412"):  # fmt: skip
        assert fact in text
    # Only the father, who is her guardian, carries the badge.
    rows = re.findall(r"<tr>.*?</tr>", response.get_data(as_text=True), re.S)
    [father_row] = [row for row in rows if "Ion Popescu" in row]
    [vasile_row] = [row for row in rows if "Vasile Lupu" in row]
    assert '<span class="marker">guardian</span>' in father_row
    assert "marker" not in vasile_row
    with portal.tutela.database.reading() as session:
        tx_hash = session.scalar(
            select(ChainRequest.tx_hash).where(ChainRequest.request_id == scene.maria_with_vasile)
        )
    assert tx_hash[:8] in text
    assert f'title="{tx_hash}"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"case_number": "", "card": "x"}, "Type the case number"),
        ({"case_number": "PN 12 ;", "card": "x"}, "A case number has at most 40"),
        ({"reason": "", "card": "x"}, "Write why you search"),
        ({"reason": "because", "card": "x"}, "Write the reason in 10 to 500 characters"),
        ({"reason": "r" * 501, "card": "x"}, "Write the reason in 10 to 500 characters"),
        ({}, "Give at least one criterion"),
        ({"birth_date": "12.04.2016"}, "Write a date as YYYY-MM-DD"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "before its start"),
        ({"companion_document": "MD/55!"}, "Letters A-Z and digits only"),
        ({"card": "12345"}, "A card number has 10 digits"),
    ],
)
def test_a_bad_search_says_why_and_searches_nothing(
    portal: Portal, scene: Scene, desk: FlaskClient, data: dict[str, str], message: str
) -> None:
    if data.get("card") == "x":
        data = {**data, "card": scene.maria_card}
    response = submit(desk, "/investigate/search", {**CASE, **data}, form_page="/investigate/")
    assert response.status_code == 400
    assert message in text_of(response)
    assert "Maria Popescu" not in text_of(response).split("Open risk flags")[0]
    assert audited(portal.tutela, "investigate-search") == []


def test_a_search_without_its_csrf_token_is_refused(scene: Scene, desk: FlaskClient) -> None:
    desk.get("/investigate/")
    response = desk.post("/investigate/search", data={**CASE, "card": scene.maria_card})
    assert response.status_code == 400
    assert "Maria Popescu" not in text_of(response)


def test_a_search_is_audited_with_who_and_the_case_and_nothing_in_the_url(
    portal: Portal, scene: Scene, desk: FlaskClient
) -> None:
    response = search(desk, companion_name="Vasile Lupu")
    assert response.status_code == 200
    [entry] = audited(portal.tutela, "investigate-search")
    assert entry.actor == "staff:investigator"
    assert entry.subject == CASE["case_number"]
    assert entry.detail["case"] == CASE["case_number"]
    # The names typed are not in the entry's open part.
    assert "Vasile" not in str(entry.detail)


def test_the_case_carries_on_to_the_timeline_without_retyping(
    portal: Portal, scene: Scene, desk: FlaskClient
) -> None:
    search(desk, card=scene.maria_card)
    page = desk.get(f"/investigate/children/{scene.maria_card}/timeline")
    assert page.status_code == 200
    assert "Timeline: Maria Popescu" in text_of(page)
    [entry] = audited(portal.tutela, "investigate-timeline")
    assert entry.subject == CASE["case_number"]


def test_without_a_case_the_timeline_asks_for_one_then_opens(
    portal: Portal, scene: Scene, desk: FlaskClient
) -> None:
    url = f"/investigate/children/{scene.maria_card}/timeline"
    asked = desk.get(url)
    assert asked.status_code == 200
    assert "Which case is this for?" in text_of(asked)
    assert "Maria" not in text_of(asked)
    assert audited(portal.tutela, "investigate-timeline") == []
    short = submit(desk, url, {"case_number": "PN-1", "reason": "short"})
    assert short.status_code == 400
    assert "Maria" not in text_of(short)
    opened = submit(desk, url, {"case_number": "PN-7", "reason": "A second case about Maria"})
    assert opened.status_code == 200
    assert "Timeline: Maria Popescu" in text_of(opened)
    # And the case is held from now on.
    assert desk.get(url).status_code == 200
    assert [e.subject for e in audited(portal.tutela, "investigate-timeline")] == ["PN-7", "PN-7"]


def timeline_proofs(page: str) -> list[dict[str, str]]:
    forms = re.findall(
        r'<form method="post" action="/investigate/check#(item-\d+)".*?</form>', page, re.S
    )
    proofs = []
    for anchor in forms:
        block = page[page.index(f"/investigate/check#{anchor}") :]
        block = block[: block.index("</form>")]
        values = dict(re.findall(r'name="(tx_hash|block|log_index|card)" value="([^"]+)"', block))
        proofs.append({"anchor": anchor, **values})
    return proofs


def test_the_timeline_shows_every_item_with_its_transaction(
    portal: Portal, scene: Scene, desk: FlaskClient
) -> None:
    search(desk, card=scene.maria_card)
    page = desk.get(f"/investigate/children/{scene.maria_card}/timeline")
    html, text = page.get_data(as_text=True), text_of(page)
    proofs = timeline_proofs(html)
    with portal.tutela.database.reading() as session:
        requested = set(
            session.scalars(
                select(ChainRequest.tx_hash).where(
                    ChainRequest.request_id.in_([scene.maria_with_vasile, scene.maria_with_father])
                )
            )
        )
    shown = {p["tx_hash"] for p in proofs}
    assert requested <= shown
    for tx_hash in shown:
        assert re.fullmatch(r"0x[0-9a-f]{64}", tx_hash)
        assert tx_hash in text
    assert text.index("Enrolled") < text.index("Crossing requested")
    assert "Check on the ledger" in text


def test_check_on_the_ledger_confirms_then_shows_a_tampered_index_row(
    portal: Portal, scene: Scene, desk: FlaskClient
) -> None:
    url = f"/investigate/children/{scene.maria_card}/timeline"
    search(desk, card=scene.maria_card)
    page = desk.get(url).get_data(as_text=True)
    with portal.tutela.database.reading() as session:
        tx_hash, block = session.execute(
            select(ChainRequest.tx_hash, ChainRequest.block_number).where(
                ChainRequest.request_id == scene.maria_with_vasile
            )
        ).one()
    [proof] = [p for p in timeline_proofs(page) if p["tx_hash"] == tx_hash]
    data = {k: proof[k] for k in ("card", "tx_hash", "block", "log_index")}
    checked = submit(desk, "/investigate/check", data, form_page=url)
    assert checked.status_code == 200
    assert f"Confirmed on the ledger in block {block}." in text_of(checked)
    # Somebody edits the index behind the ledger's back.
    with portal.tutela.database.transaction() as session:
        session.execute(
            update(ChainRequest)
            .where(ChainRequest.request_id == scene.maria_with_vasile)
            .values(border_point="MD-OTACI")
        )
    differs = submit(desk, "/investigate/check", data, form_page=url)
    text = text_of(differs)
    assert "The ledger does not confirm this item" in text
    assert "MD-OTACI" in text
    assert "MD-LEUSENI" in text
    assert "Confirmed on the ledger" not in text
    assert len(audited(portal.tutela, "investigate-check")) == 2


def test_a_forged_check_is_refused(scene: Scene, desk: FlaskClient) -> None:
    search(desk, card=scene.maria_card)
    url = f"/investigate/children/{scene.maria_card}/timeline"
    bad = {"card": scene.maria_card, "tx_hash": "0x12", "block": "1", "log_index": "0"}
    assert submit(desk, "/investigate/check", bad, form_page=url).status_code == 400


def test_an_unknown_card_is_the_same_404_as_an_unknown_page(
    scene: Scene, desk: FlaskClient
) -> None:
    search(desk, card=scene.maria_card)
    unknown = desk.get("/investigate/children/0000000000/timeline")
    malformed = desk.get("/investigate/children/nonsense/timeline")
    assert unknown.status_code == malformed.status_code == 404
    assert text_of(unknown) == text_of(malformed) == text_of(desk.get("/investigate/flags/999999"))


def svg_of(response) -> ET.Element:  # type: ignore[no-untyped-def]
    html = response.get_data(as_text=True)
    found = re.search(r"<svg .*?</svg>", html, re.S)
    assert found, "no picture on the page"
    return ET.fromstring(found.group(0))  # noqa: S314 - the portal's own output


def test_the_links_around_a_companion_show_their_children_as_valid_svg(
    scene: Scene, desk: FlaskClient
) -> None:
    search(desk, companion_name="Vasile Lupu")
    response = submit(desk, "/investigate/links", {"companion_document": VASILE[1]})
    assert response.status_code == 200, text_of(response)
    picture = svg_of(response)
    titles = {g.findtext(f"{SVG}title") for g in picture.iter(f"{SVG}g")}
    assert {"Maria Popescu (Child)", "Andrei Ceban (Child)", "Vasile Lupu (Companion)"} <= titles
    links = {a.get("href") for a in picture.iter(f"{SVG}a")}
    assert f"/investigate/children/{scene.maria_card}/timeline" in links
    text = text_of(response)
    assert "Vasile Lupu — Maria Popescu: 1 crossing together" in text
    assert "Vasile Lupu — Andrei Ceban: 1 crossing together" in text


def test_the_links_around_a_child_by_its_card_in_the_url(scene: Scene, desk: FlaskClient) -> None:
    search(desk, card=scene.maria_card)
    response = desk.get(f"/investigate/links?card={scene.maria_card}")
    assert response.status_code == 200
    titles = {g.findtext(f"{SVG}title") for g in svg_of(response).iter(f"{SVG}g")}
    assert {"Maria Popescu (Child)", "Vasile Lupu (Companion)", "Ion Popescu (Guardian)"} <= titles


def test_links_need_exactly_one_centre(scene: Scene, desk: FlaskClient) -> None:
    search(desk, card=scene.maria_card)
    both = submit(
        desk, "/investigate/links", {"card": scene.maria_card, "companion_document": VASILE[1]}
    )
    assert both.status_code == 400
    assert "Give one card number" in text_of(both)
    assert "<svg" not in both.get_data(as_text=True)


def test_the_search_exports_as_a_csv_download(scene: Scene, desk: FlaskClient) -> None:
    search(desk, companion_name="Vasile Lupu")
    response = submit(
        desk,
        "/investigate/export.csv",
        {"what": "search", "companion_name": "Vasile Lupu"},
        form_page="/investigate/",
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Disposition"].endswith('-search.csv"')
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {int(r["request_id"]) for r in rows} == {
        scene.maria_with_vasile,
        scene.andrei_with_vasile,
    }
    assert all(re.fullmatch(r"0x[0-9a-f]{64}", r["tx_hash"]) for r in rows)


def test_a_timeline_exports_as_csv(scene: Scene, desk: FlaskClient) -> None:
    search(desk, card=scene.andrei_card)
    response = submit(
        desk,
        "/investigate/export.csv",
        {"what": "timeline", "timeline_card": scene.andrei_card},
        form_page="/investigate/",
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    kinds = [r["kind"] for r in rows]
    assert kinds[0] == "enrolled"
    assert "recorded" in kinds


def test_an_export_without_a_case_asks_for_one_then_exports(
    scene: Scene, desk: FlaskClient
) -> None:
    criteria = {"what": "search", "companion_name": "Vasile Lupu"}
    asked = submit(desk, "/investigate/export.csv", criteria, form_page="/investigate/")
    assert asked.status_code == 400
    assert "Content-Disposition" not in asked.headers
    assert "Which case is this for?" in text_of(asked)
    # "Continue" sends the same export on, with the case typed once.
    html = asked.get_data(as_text=True)
    carried = dict(re.findall(r'type="hidden" name="(what|companion_name)" value="([^"]+)"', html))
    assert carried == criteria
    token = csrf_of(html)
    response = desk.post("/investigate/export.csv", data={"csrf_token": token, **carried, **CASE})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_the_report_lists_the_proofs_the_chain_and_the_contracts(
    portal: Portal, scene: Scene, desk: FlaskClient
) -> None:
    search(desk, card=scene.maria_card)
    response = submit(
        desk,
        "/investigate/report",
        {"what": "timeline", "timeline_card": scene.maria_card},
        form_page="/investigate/",
    )
    assert response.status_code == 200
    html, text = response.get_data(as_text=True), text_of(response)
    tutela = portal.tutela
    for fact in (CASE["case_number"], CASE["reason"], "investigator", str(tutela.chain_id),
                 tutela.registry.address, tutela.ledger.address):  # fmt: skip
        assert fact in text
    with tutela.database.reading() as session:
        proofs = session.execute(
            select(ChainRequest.tx_hash, ChainRequest.block_number, ChainRequest.log_index).where(
                ChainRequest.request_id.in_([scene.maria_with_vasile, scene.maria_with_father])
            )
        ).all()
    assert len(proofs) == 2
    for tx_hash, block, log_index in proofs:
        assert tx_hash in html
        assert f"block {block}, log {log_index}" in text
    assert '<script src="/static/investigate.js">' in html
    assert "<script>" not in html
    assert "onclick" not in html
    script = desk.get("/static/investigate.js")
    try:
        assert "window.print()" in script.get_data(as_text=True)
    finally:
        script.close()


def test_the_report_of_a_search_lists_its_criteria_and_hits(
    scene: Scene, desk: FlaskClient
) -> None:
    search(desk, border_point="MD-SCULENI")
    response = submit(
        desk,
        "/investigate/report",
        {"what": "search", "border_point": "MD-SCULENI"},
        form_page="/investigate/",
    )
    text = text_of(response)
    assert "Border point: MD-SCULENI" in text
    assert "Andrei Ceban" in text
    assert "Maria Popescu" not in text


def test_other_roles_cannot_use_the_workbench(portal: Portal, scene: Scene) -> None:
    for role in ("registrar", "border-officer", "child-protection", "auditor"):
        client = portal.staff_client(role)
        assert client.get("/investigate/").status_code == 403
        token = csrf_of(client.get("/login").get_data(as_text=True))
        posted = client.post(
            "/investigate/search", data={"csrf_token": token, **CASE, "card": scene.maria_card}
        )
        assert posted.status_code == 403
