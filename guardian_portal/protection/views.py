"""Child-protection desk pages: the queue the family rule holds, a request's facts, and the
officer's co-approval, denial or court-ordered override, each confirmed with the password.

Every page shows children's and companions' personal data to staff, so every page writes an
audit entry per child shown; each decision is audited too.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from guardian_portal.auth import allow, reauthenticate
from guardian_portal.errors import describe, status_of
from guardian_portal.guardian.words import status_words
from guardian_portal.hooks import audit, principal, tutela
from guardian_portal.protection import bp
from guardian_portal.protection.forms import DecisionForm, FindForm, OverrideForm
from ledger_client.errors import InputError, NotFoundError, TutelaError
from ledger_client.services import crossings, protection_desk
from ledger_client.services.protection_desk import ProtectionCase
from ledger_client.store.models import StaffRole

CHILD_PROTECTION = StaffRole.CHILD_PROTECTION.value
Page = tuple[str, int]


@bp.get("/")
@allow(CHILD_PROTECTION)
def home() -> Page:
    return _home(FindForm(formdata=None), 200)


@bp.get("/find")
@allow(CHILD_PROTECTION)
def find() -> Response | Page:
    form = FindForm(formdata=request.args)
    if form.validate():
        number = int((form.number.data or "").strip().lstrip("#"))
        return redirect(url_for("protection.request_page", request_id=number), code=303)
    return _home(form, 400)


def _home(form: FindForm, status: int) -> Page:
    cases = protection_desk.protection_queue(tutela())
    for case in cases:
        audit("read-child", case.card, page="protection.home", request=case.request)
    if not cases:
        # No child's data on the page, but the look at the queue is on record all the same.
        audit("read-queue", "protection-queue", page="protection.home")
    return render_template("protection/home.html", cases=cases, find=form), status


@bp.get("/requests/<int:request_id>")
@allow(CHILD_PROTECTION)
def request_page(request_id: int) -> Page:
    case = _case(request_id)
    return _request_page(case, DecisionForm(formdata=None), OverrideForm(formdata=None))


@bp.post("/requests/<int:request_id>/decide")
@allow(CHILD_PROTECTION)
def decide(request_id: int) -> Response | Page:
    case = _case(request_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _request_page(case, form, OverrideForm(formdata=None), status=400)
    if not case.decidable:
        if case.protection_decided:
            refusal = _("The child-protection desk has decided this request already.")
        else:
            refusal = _("This request is not waiting for a decision any more.")
        return _request_page(case, form, OverrideForm(formdata=None), refusal, 409)
    problem = reauthenticate(
        form.password.data or "", _("The password is wrong. Nothing was decided.")
    )
    if problem is not None:
        form.password.errors = [problem[0]]
        return _request_page(case, form, OverrideForm(formdata=None), status=problem[1])
    try:
        decided = crossings.decide_as_protection(
            tutela(), str(request_id), approve=form.approve, acting_as=_my_name()
        )
    except TutelaError as failure:
        return _request_page(
            case, form, OverrideForm(formdata=None), describe(failure), status_of(failure)
        )
    audit("protection-decision", case.card, request=request_id, approved=decided.approved)
    if decided.approved:
        message = _(
            "You co-approved request %(number)s. Its status is now: %(status)s.",
            number=request_id,
            status=status_words(decided.status),
        )
    else:
        message = _(
            "You denied request %(number)s. Its status is now: %(status)s.",
            number=request_id,
            status=status_words(decided.status),
        )
    flash(message)
    return redirect(url_for("protection.request_page", request_id=request_id), code=303)


@bp.post("/requests/<int:request_id>/override")
@allow(CHILD_PROTECTION)
def override(request_id: int) -> Response | Page:
    case = _case(request_id)
    form = OverrideForm()
    if not form.validate_on_submit():
        return _request_page(case, DecisionForm(formdata=None), form, status=400)
    if not case.overridable:
        if case.status == "overridden":
            refusal = _("This request is allowed by court order already.")
        else:
            refusal = _("This request can no longer be overridden.")
        return _request_page(case, DecisionForm(formdata=None), form, refusal, 409)
    problem = reauthenticate(
        form.override_password.data or "", _("The password is wrong. Nothing was decided.")
    )
    if problem is not None:
        form.override_password.errors = [problem[0]]
        return _request_page(case, DecisionForm(formdata=None), form, status=problem[1])
    try:
        overridden = crossings.override_by_court_order(
            tutela(), str(request_id), court_order=form.court_order.data or "", acting_as=_my_name()
        )
    except TutelaError as failure:
        return _request_page(
            case, DecisionForm(formdata=None), form, describe(failure), status_of(failure)
        )
    # The reference may name people: the chain keeps its hash, the audit log only the fact.
    audit("court-override", case.card, request=request_id)
    flash(
        _(
            "Request %(number)s is allowed by court order. Its status is now: %(status)s.",
            number=request_id,
            status=status_words(overridden.status),
        )
    )
    return redirect(url_for("protection.request_page", request_id=request_id), code=303)


def _request_page(
    case: ProtectionCase,
    decision: DecisionForm,
    override_form: OverrideForm,
    error: str | None = None,
    status: int = 200,
) -> Page:
    audit("read-child", case.card, page="protection.request", request=case.request)
    page = render_template(
        "protection/request.html",
        case=case,
        decision=decision,
        override=override_form,
        error=error,
    )
    return page, status


def _case(request_id: int) -> ProtectionCase:
    try:
        return protection_desk.protection_case(tutela(), request_id)
    except (NotFoundError, InputError):
        abort(404)


def _my_name() -> str:
    who = principal()
    assert who is not None
    return who.name
