"""The links around a person or a child, drawn as an SVG picture on the server.

A radial layout: the centre in the middle, the people one link away on a first ring, those
two links away on a second ring, each placed near the neighbour that brought it in, so that a
companion's children sit together. The page needs no script and the picture prints.

Colour never carries meaning alone: the kind of a node is also its shape (a child a circle,
a companion a square, a guardian a diamond), its ``<title>`` and the text list the page shows
under the picture; a flagged node has a thicker
ring and a "⚑" mark. The CSP forbids inline styles, so the look comes from classes in
``style.css`` and from SVG presentation attributes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from ledger_client.services.investigation import LinkEdge, LinkGraph, LinkNode

NODE_RADIUS = 18
RING_GAP = 150
MARGIN = 70
LABEL_CHARACTERS = 22
FLAG_MARK = "\u2691"

# Presentation attributes: the picture is readable even where style.css does not reach it
# (a saved file); the classes in style.css take precedence in the page.
_FILL = {"child": "#d9ecff", "companion": "#ffe3c2", "guardian": "#dff3e0"}
_STROKE = {"child": "#0b4f8a", "companion": "#7a4d00", "guardian": "#1d6b2f"}


@dataclass(frozen=True)
class Words:
    """What the picture says, in the reader's language (the caller translates)."""

    title: str
    kinds: dict[str, str]  # "child" -> "Child", ...
    flagged: str  # "flagged by a risk indicator"
    crossings: Callable[[int], str]  # 3 -> "3 crossings together"
    guardian_of: str  # "guardian of"


def rings(graph: LinkGraph) -> dict[str, int]:
    """Each node's distance from the centre in links; unreachable nodes go on the outer ring."""
    neighbours = _neighbours(graph)
    distance = {graph.centre: 0}
    frontier = [graph.centre]
    while frontier:
        following = []
        for key in frontier:
            for other in sorted(neighbours.get(key, ())):
                if other not in distance:
                    distance[other] = distance[key] + 1
                    following.append(other)
        frontier = following
    outer = max(distance.values(), default=0) + 1
    for node in graph.nodes:
        distance.setdefault(node.key, outer)
    return distance


def layout(graph: LinkGraph) -> dict[str, tuple[float, float]]:
    """Where each node goes: (x, y) around the centre at (0, 0)."""
    distance = rings(graph)
    neighbours = _neighbours(graph)
    angle: dict[str, float] = {graph.centre: 0.0}
    where: dict[str, tuple[float, float]] = {graph.centre: (0.0, 0.0)}
    for ring in range(1, max(distance.values(), default=0) + 1):
        members = [node.key for node in graph.nodes if distance[node.key] == ring]

        def parent_angle(key: str, ring: int = ring) -> tuple[float, str]:
            # Near the neighbour of the ring inside that brought it in: a companion's
            # children sit together, facing their companion.
            inner = [angle[n] for n in neighbours.get(key, ()) if distance.get(n) == ring - 1]
            return (min(inner) if inner else math.tau, key)

        members.sort(key=parent_angle)
        count = len(members)
        for index, key in enumerate(members):
            theta = math.tau * index / count - math.pi / 2
            angle[key] = theta + math.pi / 2
            radius = RING_GAP * ring
            where[key] = (radius * math.cos(theta), radius * math.sin(theta))
    return where


def render(
    graph: LinkGraph,
    words: Words,
    link_of: Callable[[LinkNode], str | None],
) -> str:
    """The picture as an ``<svg>`` element, ready to be put inline in a page.

    Args:
        graph: The links, as the investigation service found them.
        words: The picture's words in the reader's language.
        link_of: Where a node leads (its timeline, or the links around it); None for no link.
    """
    where = layout(graph)
    extent = max((max(abs(x), abs(y)) for x, y in where.values()), default=0.0)
    half = int(extent) + NODE_RADIUS + MARGIN
    nodes = {node.key: node for node in graph.nodes}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="link-graph" '
        f'viewBox="{-half} {-half} {2 * half} {2 * half}" '
        f'width="{2 * half}" height="{2 * half}" role="group" '
        f"aria-label={quoteattr(words.title)}>",
        f"<title>{escape(words.title)}</title>",
        '<g class="edges">',
    ]
    for edge in sorted(graph.edges, key=lambda e: (e.source, e.target, e.kind)):
        if edge.source in where and edge.target in where:
            parts.append(_edge(edge, where, nodes, words))
    parts.append("</g>")
    parts.append('<g class="nodes">')
    for node in sorted(graph.nodes, key=lambda n: (n.key != graph.centre, n.key)):
        parts.append(_node(node, where[node.key], node.key == graph.centre, words, link_of(node)))
    parts.append("</g></svg>")
    return "".join(parts)


def describe_edge(edge: LinkEdge, nodes: dict[str, LinkNode], words: Words) -> str:
    """An edge in words, for the picture's titles and the text list under it."""
    source = nodes[edge.source].label if edge.source in nodes else edge.source
    target = nodes[edge.target].label if edge.target in nodes else edge.target
    if edge.kind == "guardian-of":
        return f"{source} \u2014 {words.guardian_of} \u2014 {target}"
    return f"{source} \u2014 {target}: {words.crossings(len(edge.crossings))}"


def _edge(
    edge: LinkEdge,
    where: dict[str, tuple[float, float]],
    nodes: dict[str, LinkNode],
    words: Words,
) -> str:
    (x1, y1), (x2, y2) = where[edge.source], where[edge.target]
    kind = "guardian-of" if edge.kind == "guardian-of" else "travelled-with"
    width = 1.5 if kind == "guardian-of" else min(1.5 + len(edge.crossings), 6.0)
    dash = ' stroke-dasharray="6 4"' if kind == "guardian-of" else ""
    parts = [
        f'<g class="edge {kind}"><title>{escape(describe_edge(edge, nodes, words))}</title>',
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="#4a4a4a" stroke-width="{width:.1f}"{dash}/>',
    ]
    if edge.crossings:
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        parts.append(
            f'<circle class="edge-count-back" cx="{mx:.1f}" cy="{my:.1f}" r="11" '
            f'fill="#ffffff" stroke="#4a4a4a"/>'
            f'<text class="edge-count" x="{mx:.1f}" y="{my:.1f}" text-anchor="middle" '
            f'dominant-baseline="central" font-size="12">{len(edge.crossings)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _node(
    node: LinkNode,
    at: tuple[float, float],
    centre: bool,
    words: Words,
    href: str | None,
) -> str:
    x, y = at
    kind = node.kind if node.kind in _FILL else "child"
    classes = (
        ["node", kind] + (["flagged"] if node.flagged else []) + (["centre"] if centre else [])
    )
    title = f"{node.label} ({words.kinds.get(kind, kind)})"
    if node.flagged:
        title += f", {words.flagged}"
    radius = NODE_RADIUS + (6 if centre else 0)
    parts = [f'<g class="{" ".join(classes)}"><title>{escape(title)}</title>']
    if href:
        parts.append(f"<a href={quoteattr(href)}>")
    if node.flagged:
        # A second, thick ring: the mark must not depend on colour alone.
        parts.append(
            f'<circle class="flag-ring" cx="{x:.1f}" cy="{y:.1f}" r="{radius + 5}" '
            f'fill="none" stroke="#a4161a" stroke-width="4"/>'
        )
    parts.append(_shape(kind, x, y, radius))
    if node.flagged:
        parts.append(
            f'<text class="flag-mark" x="{x + radius:.1f}" y="{y - radius:.1f}" '
            f'text-anchor="middle" font-size="18" fill="#a4161a">{FLAG_MARK}</text>'
        )
    parts.append(
        # A white halo under the letters keeps a name readable where a line runs behind it.
        f'<text class="label" x="{x:.1f}" y="{y + radius + 16:.1f}" text-anchor="middle" '
        f'font-size="13" paint-order="stroke" stroke="#ffffff" stroke-width="3">'
        f"{escape(_short(node.label))}</text>"
    )
    if href:
        parts.append("</a>")
    parts.append("</g>")
    return "".join(parts)


def _shape(kind: str, x: float, y: float, radius: int) -> str:
    """A child is a circle, a companion a square, a guardian a diamond: a cue besides colour."""
    paint = f'fill="{_FILL[kind]}" stroke="{_STROKE[kind]}" stroke-width="2"'
    if kind == "companion":
        side = radius * 1.7
        return (
            f'<rect class="shape" x="{x - side / 2:.1f}" y="{y - side / 2:.1f}" '
            f'width="{side:.1f}" height="{side:.1f}" rx="3" {paint}/>'
        )
    if kind == "guardian":
        r = radius * 1.2
        points = f"{x:.1f},{y - r:.1f} {x + r:.1f},{y:.1f} {x:.1f},{y + r:.1f} {x - r:.1f},{y:.1f}"
        return f'<polygon class="shape" points="{points}" {paint}/>'
    return f'<circle class="shape" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" {paint}/>'


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "\u2026"


def _neighbours(graph: LinkGraph) -> dict[str, set[str]]:
    neighbours: dict[str, set[str]] = {}
    for edge in graph.edges:
        neighbours.setdefault(edge.source, set()).add(edge.target)
        neighbours.setdefault(edge.target, set()).add(edge.source)
    return neighbours
