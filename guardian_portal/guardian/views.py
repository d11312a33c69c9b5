"""Guardian pages: activation, the inbox, a request and its decision, the children's history.

A guardian sees only their own children: another family's request or card answers exactly as
an unknown one does (404), so trying numbers teaches nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from guardian_portal.auth import GUARDIAN, PUBLIC, allow
from guardian_portal.errors import describe, status_of
from guardian_portal.guardian import bp
from guardian_portal.guardian.forms import ActivationForm, DecisionForm
from guardian_portal.guardian.words import moment
from guardian_portal.hooks import client_address, principal, tutela
from guardian_portal.i18n import select_locale
from ledger_client.errors import (
    ConflictError,
    ContractRevertError,
    InputError,
    NotFoundError,
    SignatureError,
    TutelaError,
)
from ledger_client.services import accounts, crossings, guardians
from ledger_client.services.guardian_keys import GuardianLockedError
from ledger_client.services.guardians import GuardianRequestView
from ledger_client.services.throttle import ThrottledError

Page = str | tuple[str, int]


@bp.route("/activate", methods=["GET", "POST"])
@allow(PUBLIC)
def activate() -> Response | Page:
    form = ActivationForm()
    error = None
    status = 200
    if form.validate_on_submit():
        document = form.document.data or ""
        password = form.password.data or ""
        try:
            guardians.activate_guardian(
                tutela(),
                document=document,
                code=form.code.data or "",
                password=password,
                pin=form.pin.data or "",
                # Messages to the guardian come in the language they activated in.
                language=select_locale(),
            )
        except TutelaError as failure:
            error, status = _activation_problem(failure)
        else:
            return _signed_in_after_activation(document, password)
    elif form.errors:
        status = 400
    return render_template("guardian/activate.html", form=form, error=error), status


def _activation_problem(failure: TutelaError) -> tuple[str, int]:
    if isinstance(failure, GuardianLockedError):
        message = _(
            "Too many wrong codes in a row. Try again after %(time)s.",
            time=moment(failure.locked_until),
        )
        return message, 429
    if isinstance(failure, SignatureError | NotFoundError):
        # One message for an unknown document, a wrong code and an expired one: the form
        # must not tell a stranger who is registered.
        return _(
            "The document number or the activation code is wrong, or the code has expired. "
            "A code works for 30 days; after that, go to a registry office with your identity "
            "document for a new one."
        ), 400
    if isinstance(failure, ConflictError):
        return _("This account is activated already. Log in with your password."), 409
    if isinstance(failure, InputError):
        return _("Check the document number: it has letters and digits only."), 400
    return describe(failure), status_of(failure)


def _signed_in_after_activation(document: str, password: str) -> Response:
    try:
        who = accounts.login_guardian(tutela(), document, password, address=client_address())
    except TutelaError:
        # Activated, but the login itself was refused (a throttle, say): the login page says why.
        flash(_("Your account is active. Log in with your new password."))
        return redirect(url_for("auth.guardian_login"), code=303)
    # A fresh cookie session, as at every login: nothing from before survives.
    session.clear()
    session["token"] = who.session_id
    flash(_("Your account is active. You are logged in."))
    return redirect(url_for("guardian.inbox"), code=303)


@bp.get("/")
@allow(GUARDIAN)
def inbox() -> Page:
    me = _me()
    waiting = guardians.guardian_requests(tutela(), me)
    # Newest first: the request the guardian was just told about is at the top.
    waiting.sort(key=lambda r: r.request, reverse=True)
    return render_template(
        "guardian/inbox.html",
        requests=waiting,
        is_me={r.request: r.companion_is_me for r in waiting},
    )


@bp.route("/requests/<int:request_id>", methods=["GET", "POST"])
@allow(GUARDIAN)
def request_page(request_id: int) -> Response | Page:
    me = _me()
    found = _request_of(me, request_id)
    form = DecisionForm()
    error = None
    status = 200
    if form.validate_on_submit():
        error, status = _refusal_before_pin(found)
        if error is None:
            try:
                decided = crossings.decide_as_guardian(
                    tutela(),
                    str(request_id),
                    approve=form.approve,
                    secret=form.pin.data or "",
                    account_id=me,
                )
            except TutelaError as failure:
                error, status = _decision_problem(failure, form)
            else:
                _flash_decision(decided.approved, decided.counted)
                return redirect(url_for("guardian.request_page", request_id=request_id), 303)
    elif form.is_submitted():
        status = 400
    account = guardians.guardian_account(tutela(), me)
    return render_template(
        "guardian/request.html",
        item=found,
        form=form,
        error=error,
        is_me=found.companion_is_me,
        locked_until=_still_locked(account.locked_until),
    ), status


def _still_locked(until: datetime | None) -> datetime | None:
    # The account keeps its last lock time until the next right PIN; only a future one counts.
    now = datetime.fromtimestamp(tutela().clock(), UTC)
    return until if until is not None and until > now else None


def _refusal_before_pin(found: GuardianRequestView) -> tuple[str | None, int]:
    """Why the request cannot be decided, checked before the PIN is tried (and counted)."""
    if found.decided:
        # A replayed form, or a second tab: the first decision stands and nothing is sent.
        return _("You decided this request already. Your decision stands."), 409
    if found.status == "expired":
        return _("This request has expired. The border officer must ask again."), 409
    if found.status != "pending":
        return _("This request is not waiting for a decision any more."), 409
    return None, 200


def _decision_problem(failure: TutelaError, form: DecisionForm) -> tuple[str | None, int]:
    if isinstance(failure, GuardianLockedError):
        return _(
            "Too many wrong PINs in a row. Deciding is locked until %(time)s.",
            time=moment(failure.locked_until),
        ), 429
    if isinstance(failure, ThrottledError):
        return describe(failure), 429
    if isinstance(failure, SignatureError):
        # Next to the field, where the guardian types again.
        form.pin.errors = [_("The PIN is wrong. Nothing was decided.")]
        return None, 403
    if isinstance(failure, NotFoundError):
        abort(404)
    if isinstance(failure, ContractRevertError):
        return describe(failure), 409
    return describe(failure), status_of(failure)


def _flash_decision(approved: bool, counted: bool) -> None:
    if not approved:
        flash(_("You denied. The border officer sees it now."))
    elif counted:
        flash(_("You approved. The border officer sees it now."))
    else:
        flash(
            _(
                "You approved. Because you travel with the child, another guardian or a "
                "child-protection officer must approve too. The border officer sees it now."
            ),
            "warning",
        )


@bp.get("/children")
@allow(GUARDIAN)
def children() -> str:
    return render_template(
        "guardian/children.html", children=guardians.guardian_children(tutela(), _me())
    )


@bp.get("/children/<card>/history")
@allow(GUARDIAN)
def history(card: str) -> str:
    me = _me()
    try:
        entries = guardians.guardian_history(tutela(), me, card)
    except (NotFoundError, InputError):
        abort(404)
    child = next((c for c in guardians.guardian_children(tutela(), me) if c.card == card), None)
    account = guardians.guardian_account(tutela(), me)
    return render_template(
        "guardian/history.html",
        child=child,
        card=card,
        entries=sorted(entries, key=lambda e: e.request, reverse=True),
        requested_at={e.request: _requested_at(me, e.request) for e in entries},
        my_address=account.address.lower(),
    )


def _requested_at(account_id: int, request_id: int) -> str:
    # The history carries block numbers only; the request's own view has its time.
    try:
        return moment(guardians.guardian_request(tutela(), account_id, request_id).requested_at)
    except NotFoundError:
        return ""


def _me() -> int:
    who = principal()
    assert who is not None  # @allow(GUARDIAN) let only a signed-in guardian through
    return who.id


def _request_of(account_id: int, request_id: int) -> GuardianRequestView:
    try:
        return guardians.guardian_request(tutela(), account_id, request_id)
    except (NotFoundError, InputError):
        abort(404)
