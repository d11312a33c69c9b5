"""The workbench's pages: the search, a child's timeline with a check on the ledger, and the
links around a person or a child.

Searches go by POST: the reason and the names typed must not land in URLs, proxies' logs or
the browser's history. The investigation service writes the audit entry of every look-up,
with its case, in the transaction that reads.
"""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from guardian_portal.auth import allow
from guardian_portal.errors import describe, status_of
from guardian_portal.hooks import tutela
from guardian_portal.investigate import bp, case, graph_svg
from guardian_portal.investigate.common import (
    INVESTIGATOR,
    Page,
    RefusedError,
    bad_input,
    case_of_request,
)
from guardian_portal.investigate.forms import (
    CheckForm,
    LinksForm,
    SearchForm,
    TimelineForm,
)
from guardian_portal.investigate.words import kind_words
from ledger_client.cards import format_card
from ledger_client.errors import InputError, NotFoundError, TutelaError
from ledger_client.risk.flags import FlagView
from ledger_client.services import investigation
from ledger_client.services.investigation import (
    Case,
    LedgerCheck,
    LedgerProof,
    LinkGraph,
    LinkNode,
    SearchQuery,
)


@bp.get("/")
@allow(INVESTIGATOR)
def home() -> Page:
    form = SearchForm(formdata=None)
    held = case.current()
    if held is not None:
        form.case_number.data, form.reason.data = held.number, held.reason
    return _workbench(form, 200)


@bp.post("/search")
@allow(INVESTIGATOR)
def search() -> Page:
    form = SearchForm()
    valid = form.validate_on_submit()
    # Both checks run, so that every mistake shows at once.
    valid = form.check_criteria() and valid
    if not valid:
        return _workbench(form, 400)
    try:
        held = Case.parse(form.case_number.data or "", form.reason.data or "")
        query = SearchQuery(**form.criteria())
        result = investigation.search(tutela(), case.actor(), held, query)
    except TutelaError as failure:
        return _workbench(form, status_of(failure), describe(failure))
    case.remember(held)
    page = render_template(
        "investigate/results.html",
        result=result,
        criteria=_criteria_shown(form),
        criteria_values=form.criteria(),
        case=held,
    )
    return page, 200


@bp.route("/children/<card>/timeline", methods=["GET", "POST"])
@allow(INVESTIGATOR)
def timeline(card: str) -> Page:
    form = TimelineForm(formdata=request.form if request.method == "POST" else None)
    if request.method == "POST" and not form.validate_on_submit():
        return bad_input()
    try:
        held = case_of_request(form.case_number.data, form.reason.data)
    except RefusedError as problem:
        return problem.page
    return _timeline_page(held, card, {})


@bp.post("/check")
@allow(INVESTIGATOR)
def check() -> Page:
    form = CheckForm()
    if not form.validate_on_submit():
        return bad_input()
    try:
        held = case_of_request(form.case_number.data, form.reason.data)
    except RefusedError as problem:
        return problem.page
    proof = LedgerProof(
        tx_hash=(form.tx_hash.data or "").lower(),
        block=int(form.block.data or 0),
        log_index=int(form.log_index.data or 0),
    )
    try:
        result = investigation.check_on_ledger(tutela(), case.actor(), held, proof)
    except InputError:
        return bad_input()
    except TutelaError as failure:
        result = LedgerCheck(False, None, None, (describe(failure),))
    return _timeline_page(held, form.card.data or "", {(proof.tx_hash, proof.log_index): result})


@bp.route("/links", methods=["GET", "POST"])
@allow(INVESTIGATOR)
def links() -> Page:
    if request.method == "GET":
        # Only a card number or a person's node key (an opaque commitment, already on the
        # chain) travels in a URL; a document or a name comes by POST.
        given = MultiDict({k: request.args[k] for k in ("card", "person") if request.args.get(k)})
        form = LinksForm(formdata=given, meta={"csrf": False})
        if not given:
            return render_template("investigate/links.html", form=form, graph=None), 200
        valid = form.validate()
    else:
        form = LinksForm()
        valid = form.validate_on_submit()
    if form.person.errors:
        return bad_input()
    valid = valid and form.check_centre()
    if not valid:
        return render_template("investigate/links.html", form=form, graph=None), 400
    centre = form.centre()
    try:
        held = case_of_request(form.case_number.data, form.reason.data)
    except RefusedError as problem:
        return problem.page
    try:
        graph = investigation.links(
            tutela(),
            case.actor(),
            held,
            card=centre.get("card"),
            companion_document=centre.get("companion_document"),
            guardian_document=centre.get("guardian_document"),
            person=centre.get("person"),
        )
    except (NotFoundError, InputError):
        abort(404)
    except TutelaError as failure:
        page = render_template(
            "investigate/links.html", form=form, graph=None, error=describe(failure)
        )
        return page, status_of(failure)
    return render_template(
        "investigate/links.html",
        form=form,
        graph=graph,
        picture=_picture(graph),
        nodes={node.key: node for node in graph.nodes},
        describe_edge=lambda edge: graph_svg.describe_edge(
            edge, {n.key: n for n in graph.nodes}, _graph_words(graph)
        ),
        timeline_of=_timeline_of,
        links_of=_links_of,
        case=held,
    ), 200


def _workbench(form: SearchForm, status: int, error: str | None = None) -> Page:
    flags, flags_error = _open_flags()
    page = render_template(
        "investigate/home.html", form=form, flags=flags, flags_error=flags_error, error=error
    )
    return page, status


def _open_flags() -> tuple[list[tuple[FlagView, tuple[investigation.Person, ...]]], str | None]:
    try:
        return investigation.flags_with_people(tutela(), case.actor(), open_only=True), None
    except TutelaError as failure:
        return [], describe(failure)


def _timeline_page(held: Case, card: str, checks: dict[tuple[str, int], LedgerCheck]) -> Page:
    try:
        found = investigation.timeline(tutela(), case.actor(), held, card)
    except (NotFoundError, InputError):
        abort(404)
    page = render_template(
        "investigate/timeline.html",
        timeline=found,
        card=format_card(found.card_number),
        checks=checks,
        case=held,
    )
    return page, 200


def _criteria_shown(form: SearchForm) -> list[tuple[str, str]]:
    """The criteria given, as (label, value) for the page and the report."""
    return [(str(getattr(form, name).label.text), value) for name, value in form.criteria().items()]


def _graph_words(graph: LinkGraph) -> graph_svg.Words:
    centre = next((node for node in graph.nodes if node.key == graph.centre), None)
    title = _("Links around %(name)s", name=centre.label) if centre is not None else _("Links")
    return graph_svg.Words(
        title=title,
        kinds={kind: kind_words(kind) for kind in ("child", "companion", "guardian")},
        flagged=_("flagged by a risk indicator"),
        crossings=lambda count: ngettext(
            "%(num)d crossing together", "%(num)d crossings together", count
        ),
        guardian_of=_("guardian of"),
    )


def _picture(graph: LinkGraph) -> Markup:
    def link_of(node: LinkNode) -> str | None:
        # A child leads to its timeline, an adult to the links around them (but the centre
        # not to the page already shown).
        if node.card_number:
            return _timeline_of(node)
        return None if node.key == graph.centre else _links_of(node)

    svg = graph_svg.render(graph, _graph_words(graph), link_of)
    # Built from escaped text only (graph_svg escapes every label and attribute).
    return Markup(svg)  # noqa: S704


def _timeline_of(node: LinkNode) -> str | None:
    """A child's timeline; an adult has none."""
    if node.card_number:
        return url_for("investigate.timeline", card=format_card(node.card_number))
    return None


def _links_of(node: LinkNode) -> str:
    """The links around a child (by card) or an adult (by the node's key: the commitment is
    opaque and already on the chain; a document or a name must never be in a URL)."""
    if node.card_number:
        return url_for("investigate.links", card=format_card(node.card_number))
    return url_for("investigate.links", person=node.key)
