"""The auditor's page: the audit log newest first, with the private parts opened (the reason
of a search, its criteria), filters by actor, case and action, and the state of the chain
of entries and of its anchors on the ledger.

An auditor reads what investigators typed, so each look at the log is itself audited (by the
service, in the transaction that reads).
"""

from __future__ import annotations

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Regexp

from guardian_portal.audit_desk import bp
from guardian_portal.auth import allow
from guardian_portal.errors import describe, status_of
from guardian_portal.hooks import client_address, principal, tutela
from ledger_client.errors import TutelaError
from ledger_client.services import audit as audit_log
from ledger_client.services.audit_anchor import AuditSummary, audit_summary
from ledger_client.store.models import StaffRole

AUDITOR = StaffRole.AUDITOR.value
LIMIT = 200
Page = tuple[str, int]


def _stripped(text: object) -> object:
    return text.strip() if isinstance(text, str) else text


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET that changes nothing

    actor = StringField(
        _l("Who"),
        filters=[_stripped],
        validators=[Length(max=120, message=_l("At most %(max)s characters."))],
    )
    case = StringField(
        _l("Case number"),
        filters=[_stripped],
        validators=[
            Regexp(
                r"^[A-Za-z0-9/._-]{0,40}$",
                message=_l("A case number has at most 40 letters, digits and / . _ -."),
            )
        ],
    )
    action = StringField(
        _l("Action"),
        filters=[_stripped],
        validators=[
            Regexp(
                r"^[a-z0-9-]{0,60}$",
                message=_l(
                    "An action is written in small letters, digits and dashes, "
                    "as investigate-search."
                ),
            )
        ],
    )


class VerifyForm(FlaskForm):
    """The button that verifies every entry: a POST, so it carries a CSRF token."""


@bp.get("/")
@allow(AUDITOR)
def home() -> Page:
    return _show(verify_all=False)


@bp.post("/verify")
@allow(AUDITOR)
def verify() -> Page:
    if not VerifyForm().validate_on_submit():
        return _show(verify_all=False, code=400)
    return _show(verify_all=True)


def _show(*, verify_all: bool, code: int = 200) -> Page:
    form = FilterForm(formdata=request.args)
    if not form.validate():
        return _page(form, [], None, None, 400)
    filters = {name: getattr(form, name).data or None for name in ("actor", "case", "action")}
    opened = tutela()
    try:
        # A transaction, not a read: the service records this look at the log ("audit-read",
        # its filters sealed) in it, after the page is taken.
        with opened.database.transaction() as session:
            entries = audit_log.audit_page(
                session, opened.master_key, reader=_reader(), limit=LIMIT, **filters
            )
        # Every look checks the newest anchor against the log, at a constant cost; walking
        # every entry grows with the log, so it waits for the auditor to ask.
        summary = audit_summary(opened)
        chain = audit_log.audit_status(opened) if verify_all else None
    except TutelaError as failure:
        return _page(form, [], None, None, status_of(failure), describe(failure))
    return _page(form, entries, summary, chain, code)


def _reader() -> audit_log.Actor:
    who = principal()
    assert who is not None  # @allow let only a signed-in auditor through
    return audit_log.Actor(kind=who.kind, id=who.id, name=who.name, address=client_address())


def _page(
    form: FilterForm,
    entries: list[audit_log.AuditView],
    summary: AuditSummary | None,
    status: audit_log.AuditStatus | None,
    code: int,
    error: str | None = None,
) -> Page:
    page = render_template(
        "audit/home.html",
        form=form,
        verify_form=VerifyForm(),
        entries=entries,
        summary=summary,
        chain=status,
        error=error,
        limit=LIMIT,
    )
    return page, code
