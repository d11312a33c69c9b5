"""The links picture leads on: an adult in it opens the links around them, by the opaque key
their node carries, never by their document or name in the URL."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from tests.portal.conftest import Portal
from tests.portal.support import submit, text_of
from tests.portal.test_investigate_desk import (
    CASE,
    SVG,
    VASILE,
    Scene,
    audited,
    desk,
    scene,
    search,
    svg_of,
)

__all__ = ["desk", "scene"]  # fixtures, used by name


def node_groups(picture: ET.Element) -> dict[str, ET.Element]:
    """The picture's nodes by their title ("Vasile Lupu (Companion)")."""
    return {
        str(g.findtext(f"{SVG}title")): g
        for g in picture.iter(f"{SVG}g")
        if g.get("class", "").startswith("node ")
    }


def href_of(group: ET.Element) -> str | None:
    link = group.find(f"{SVG}a")
    return None if link is None else link.get("href")


def test_an_adult_in_the_picture_leads_to_the_links_around_them(
    portal: Portal, scene: Scene, desk: FlaskClient
) -> None:
    search(desk, card=scene.maria_card)
    around_maria = desk.get(f"/investigate/links?card={scene.maria_card}")
    nodes = node_groups(svg_of(around_maria))
    href = href_of(nodes["Vasile Lupu (Companion)"])
    assert href is not None
    assert href.startswith("/investigate/links?person=")
    # The key is the opaque commitment; the document and the name stay out of the URL.
    (key,) = parse_qs(urlsplit(href).query)["person"]
    assert re.fullmatch(r"person:0x[0-9a-f]{64}", key)
    for private in (VASILE[0], "Vasile", "Lupu", VASILE[1], "55550001"):
        assert private not in href
    # Guardians lead on too; the text list under the picture offers the same link.
    assert (href_of(nodes["Ion Popescu (Guardian)"]) or "").startswith("/investigate/links?person=")
    assert f'href="{html.escape(href)}"' in around_maria.get_data(as_text=True)

    around_vasile = desk.get(href)
    assert around_vasile.status_code == 200, text_of(around_vasile)
    picture = svg_of(around_vasile)
    assert picture.findtext(f"{SVG}title") == "Links around Vasile Lupu"
    nodes = node_groups(picture)
    (centre,) = [g for g in nodes.values() if "centre" in g.get("class", "").split()]
    assert centre.findtext(f"{SVG}title") == "Vasile Lupu (Companion)"
    assert href_of(centre) is None  # the page already shown
    assert {"Maria Popescu (Child)", "Andrei Ceban (Child)"} <= set(nodes)
    entry = audited(portal.tutela, "investigate-links")[0]
    assert (entry.subject, entry.detail["criteria"]) == (CASE["case_number"], ["person"])


def test_a_person_link_without_a_case_asks_for_one_then_opens(
    portal: Portal, scene: Scene, desk: FlaskClient
) -> None:
    search(desk, card=scene.maria_card)
    around_maria = desk.get(f"/investigate/links?card={scene.maria_card}")
    href = href_of(node_groups(svg_of(around_maria))["Vasile Lupu (Companion)"])
    assert href is not None
    (key,) = parse_qs(urlsplit(href).query)["person"]
    fresh = portal.staff_client("investigator")
    asked = fresh.get(href)
    assert asked.status_code == 200
    assert "Which case is this for?" in text_of(asked)
    assert "Vasile" not in text_of(asked)
    opened = submit(
        fresh,
        "/investigate/links",
        {"case_number": "PN-9", "reason": "A second case about this man", "person": key},
        form_page=href,
    )
    assert opened.status_code == 200, text_of(opened)
    assert svg_of(opened).findtext(f"{SVG}title") == "Links around Vasile Lupu"


def test_a_malformed_person_is_bad_input_and_an_unknown_one_not_found(
    portal: Portal, scene: Scene, desk: FlaskClient
) -> None:
    search(desk, card=scene.maria_card)
    before = len(audited(portal.tutela, "investigate-links"))
    malformed = desk.get("/investigate/links?person=MD55550001")
    assert malformed.status_code == 400
    assert "Some of what you sent is not valid. Nothing was looked up." in text_of(malformed)
    unknown = desk.get("/investigate/links?person=person:0x" + "ab" * 32)
    assert unknown.status_code == 404
    assert "<svg" not in unknown.get_data(as_text=True)
    assert len(audited(portal.tutela, "investigate-links")) == before
