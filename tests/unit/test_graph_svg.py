"""The links picture: valid SVG, every person drawn once and reachable, flagged people
marked by more than colour, edges labelled with their number of crossings."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from guardian_portal.investigate.graph_svg import FLAG_MARK, Words, layout, render, rings
from ledger_client.services.investigation import LinkEdge, LinkGraph, LinkNode

SVG = "{http://www.w3.org/2000/svg}"
WORDS = Words(
    title="Links around Vasile <Lupu> & co",
    kinds={"child": "Child", "companion": "Companion", "guardian": "Guardian"},
    flagged="flagged",
    crossings=lambda n: f"{n} crossings together",
    guardian_of="guardian of",
)


def companion_with_children(flag_companion: bool = True) -> LinkGraph:
    """One companion who travelled with three children; one child has a guardian."""
    nodes = [
        LinkNode("c:vasile", "companion", "Vasile Lupu", None, flag_companion),
        LinkNode("k:ana", "child", "Ana Rusu", "1234567890", False),
        LinkNode("k:ion", "child", "Ion Ceban", "2234567890", False),
        LinkNode("k:eva", "child", "Eva Munteanu-Lungu-Dragomir", "3234567890", True),
        LinkNode("g:elena", "guardian", "Elena Rusu", None, False),
    ]
    edges = [
        LinkEdge("c:vasile", "k:ana", "travelled-with", (1, 4)),
        LinkEdge("c:vasile", "k:ion", "travelled-with", (2,)),
        LinkEdge("c:vasile", "k:eva", "travelled-with", (3, 5, 6)),
        LinkEdge("g:elena", "k:ana", "guardian-of", ()),
    ]
    return LinkGraph("c:vasile", tuple(nodes), tuple(edges))


def link_of(node: LinkNode) -> str | None:
    return f"/investigate/children/{node.card_number}/timeline" if node.card_number else None


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is valid XML


def test_the_picture_is_valid_svg_with_every_person_once() -> None:
    root = parse(render(companion_with_children(), WORDS, link_of))
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == "Links around Vasile <Lupu> & co"
    nodes = root.findall(f".//{SVG}g[@class]")
    titles = [g.find(f"{SVG}title").text for g in nodes if g.get("class", "").startswith("node ")]
    assert sorted(titles) == [
        "Ana Rusu (Child)",
        "Elena Rusu (Guardian)",
        "Eva Munteanu-Lungu-Dragomir (Child), flagged",
        "Ion Ceban (Child)",
        "Vasile Lupu (Companion), flagged",
    ]


def test_nodes_are_coloured_by_kind_through_classes_and_children_link_to_timelines() -> None:
    root = parse(render(companion_with_children(), WORDS, link_of))
    classes = sorted(
        g.get("class") for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("node ")
    )
    assert classes == [
        "node child",
        "node child",
        "node child flagged",
        "node companion flagged centre",
        "node guardian",
    ]
    # The shape tells the kind too, for those who cannot tell the colours apart.
    shapes = {
        g.get("class"): g.find(".//*[@class='shape']").tag.removeprefix(SVG)
        for g in root.iter(f"{SVG}g")
        if g.get("class", "").startswith("node ")
    }
    assert shapes["node child"] == "circle"
    assert shapes["node companion flagged centre"] == "rect"
    assert shapes["node guardian"] == "polygon"
    links = sorted(a.get("href") for a in root.iter(f"{SVG}a"))
    assert links == [
        "/investigate/children/1234567890/timeline",
        "/investigate/children/2234567890/timeline",
        "/investigate/children/3234567890/timeline",
    ]
    assert root.find(f".//{SVG}g[@class='node guardian']/{SVG}a") is None


def test_flagged_people_have_a_thick_ring_and_a_flag_mark() -> None:
    root = parse(render(companion_with_children(), WORDS, link_of))
    flagged = [g for g in root.iter(f"{SVG}g") if "flagged" in g.get("class", "").split()]
    assert len(flagged) == 2
    for group in flagged:
        ring = group.find(f".//{SVG}circle[@class='flag-ring']")
        assert ring is not None
        assert float(ring.get("stroke-width")) >= 4
        assert group.find(f".//{SVG}text[@class='flag-mark']").text == FLAG_MARK
    plain = root.find(f".//{SVG}g[@class='node guardian']")
    assert plain.find(f".//{SVG}circle[@class='flag-ring']") is None


def test_edges_are_labelled_with_their_number_of_crossings() -> None:
    root = parse(render(companion_with_children(), WORDS, link_of))
    counts = sorted(t.text for t in root.iter(f"{SVG}text") if t.get("class") == "edge-count")
    assert counts == ["1", "2", "3"]
    titles = [
        g.find(f"{SVG}title").text
        for g in root.iter(f"{SVG}g")
        if "edge" in g.get("class", "").split()
    ]
    assert "Vasile Lupu \u2014 Eva Munteanu-Lungu-Dragomir: 3 crossings together" in titles
    assert "Elena Rusu \u2014 guardian of \u2014 Ana Rusu" in titles


def test_long_labels_are_shortened_in_the_picture_but_not_in_its_title() -> None:
    root = parse(render(companion_with_children(), WORDS, link_of))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "label"]
    assert "Eva Munteanu-Lungu-Dr\u2026" in labels
    assert all(len(label) <= 22 for label in labels)


def test_the_layout_is_radial_the_centre_in_the_middle_and_rings_by_distance() -> None:
    graph = companion_with_children()
    where = layout(graph)
    assert where["c:vasile"] == (0.0, 0.0)
    assert rings(graph) == {"c:vasile": 0, "k:ana": 1, "k:ion": 1, "k:eva": 1, "g:elena": 2}
    first = {round(math.hypot(*where[k])) for k in ("k:ana", "k:ion", "k:eva")}
    assert first == {150}
    assert round(math.hypot(*where["g:elena"])) == 300
    # No two people drawn on the same spot.
    assert len({(round(x), round(y)) for x, y in where.values()}) == len(where)


def test_a_lone_centre_and_names_with_markup_stay_valid_xml() -> None:
    lone = LinkGraph("k:x", (LinkNode("k:x", "child", '<b>"Ana" & Ion</b>', None, False),), ())
    root = parse(render(lone, WORDS, link_of))
    [label] = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "label"]
    assert label == '<b>"Ana" & Ion</b>'
