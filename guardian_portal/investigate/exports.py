"""Exports of a case's findings: CSV for analysis and a print-ready report for a court.

Both look the findings up again under the case (and so are audited again): an export holds
what the ledger's index says now, not what a page showed minutes ago. The report lists the
ledger proof of every finding with the chain id and the contracts' addresses, so that anyone
with a node can check each fact.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import abort, render_template
from werkzeug.wrappers import Response

from guardian_portal.auth import allow
from guardian_portal.errors import describe, status_of
from guardian_portal.hooks import principal, tutela
from guardian_portal.investigate import bp, case
from guardian_portal.investigate.common import (
    INVESTIGATOR,
    Page,
    RefusedError,
    bad_input,
    case_of_request,
)
from guardian_portal.investigate.forms import ExportForm
from ledger_client.errors import InputError, NotFoundError, TutelaError
from ledger_client.services import investigation
from ledger_client.services.investigation import Case, SearchQuery, SearchResult, Timeline

_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


@bp.post("/export.csv")
@allow(INVESTIGATOR)
def export_csv() -> Response | Page:
    try:
        form, held, findings = _findings()
    except RefusedError as refused:
        return refused.page
    text = investigation.findings_csv(findings)
    name = f"tutela-{_UNSAFE_IN_FILENAME.sub('-', held.number)}-{form.what.data}.csv"
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/report")
@allow(INVESTIGATOR)
def report() -> Page:
    try:
        form, held, findings = _findings()
    except RefusedError as refused:
        return refused.page
    who = principal()
    opened = tutela()
    page = render_template(
        "investigate/report.html",
        case=held,
        who=who.name if who else "",
        when=datetime.now(UTC),
        criteria=[
            (str(getattr(form, name).label.text), value) for name, value in form.criteria().items()
        ],
        result=findings if isinstance(findings, SearchResult) else None,
        timeline=findings if isinstance(findings, Timeline) else None,
        chain_id=opened.chain_id,
        contracts=[
            ("ChildRegistry", opened.registry.address),
            ("CrossingLedger", opened.ledger.address),
        ],
    )
    return page, 200


def _findings() -> tuple[ExportForm, Case, SearchResult | Timeline]:
    """The export's form, case and findings, looked up again.

    Raises:
        RefusedError: the input is wrong, no case is held, or the look-up failed.
    """
    form = ExportForm()
    what = form.what.data
    if (
        not form.validate_on_submit()
        or (what == "timeline" and not form.timeline_card.data)
        or (what == "search" and not form.criteria())
    ):
        raise RefusedError(bad_input())
    held = case_of_request(form.case_number.data, form.reason.data)
    try:
        if what == "timeline":
            found: SearchResult | Timeline = investigation.timeline(
                tutela(), case.actor(), held, form.timeline_card.data or ""
            )
        else:
            query = SearchQuery(**form.criteria())
            found = investigation.search(tutela(), case.actor(), held, query)
    except NotFoundError:
        abort(404)
    except InputError:
        raise RefusedError(bad_input()) from None
    except TutelaError as failure:
        raise RefusedError(bad_input(describe(failure), status_of(failure))) from None
    return form, held, found
