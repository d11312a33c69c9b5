"""Who may open what: logins, logout, and an access rule on every view (deny by default).

Each view declares who may use it with ``@allow(...)``; a view without a rule answers 403
to everyone, so a forgotten decorator fails closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from guardian_portal.errors import describe, status_of
from guardian_portal.hooks import client_address, principal, tutela
from ledger_client.errors import SignatureError, TutelaError
from ledger_client.services import accounts
from ledger_client.services.throttle import ThrottledError
from ledger_client.store.models import StaffRole

GUARDIAN = "guardian"
PUBLIC = "public"
ANY_STAFF = frozenset(role.value for role in StaffRole)
F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)

# Where each kind of user lands after logging in.
HOME_OF_ROLE = {
    StaffRole.REGISTRAR.value: "registry.home",
    StaffRole.BORDER_OFFICER.value: "border.home",
    StaffRole.CHILD_PROTECTION.value: "protection.home",
    StaffRole.INVESTIGATOR.value: "investigate.home",
    StaffRole.AUDITOR.value: "audit_desk.home",
    GUARDIAN: "guardian.inbox",
}


def allow(*who: str) -> Callable[[F], F]:
    """Marks who may use a view: staff role names, ``GUARDIAN``, or ``PUBLIC``."""

    def mark(view: F) -> F:
        view._tutela_access = frozenset(who)  # type: ignore[attr-defined]
        return view

    return mark


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_load_principal)
    app.before_request(_enforce_access)

    @app.context_processor
    def signed_in() -> dict[str, object]:
        return {"principal": principal()}


def _load_principal() -> None:
    token = session.get("token")
    g.principal = accounts.session_principal(tutela(), token) if token else None
    if token and g.principal is None:
        session.clear()


def _enforce_access() -> Response | None:
    if request.endpoint is None:
        return None  # 404 follows
    if request.endpoint == "static":
        return None
    view = request.endpoint and _view(request.endpoint)
    rule: frozenset[str] | None = getattr(view, "_tutela_access", None)
    if rule is None:
        abort(403)
    if PUBLIC in rule:
        return None
    who = principal()
    if who is None:
        if request.method == "GET":
            login = "auth.guardian_login" if rule == {GUARDIAN} else "auth.staff_login"
            return redirect(url_for(login, next=request.full_path.rstrip("?")))
        abort(401)
    role = GUARDIAN if who.kind == GUARDIAN else (who.role or "")
    if role not in rule:
        abort(403)
    return None


def _view(endpoint: str) -> Callable[..., Any] | None:
    from flask import current_app

    return current_app.view_functions.get(endpoint)


class StaffLoginForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Type your name.")), Length(max=100)],
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Type your password.")), Length(max=200)],
    )
    code = StringField(
        _l("Code from your authenticator app (if you have one)"), validators=[Length(max=10)]
    )


class GuardianLoginForm(FlaskForm):
    document = StringField(
        _l("Identity document number"),
        validators=[
            DataRequired(_l("Type the number of your identity document.")),
            Length(max=40),
        ],
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Type your password.")), Length(max=200)],
    )


@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
def staff_login() -> Response | str | tuple[str, int]:
    form = StaffLoginForm()
    error = None
    if form.validate_on_submit():
        try:
            who = accounts.login_staff(
                tutela(),
                form.name.data or "",
                form.password.data or "",
                form.code.data or "",
                address=client_address(),
            )
        except TutelaError as failure:
            error = describe(failure)
        else:
            return _signed_in(who.session_id, HOME_OF_ROLE.get(who.role or "", "auth.index"))
    status = 400 if error or form.errors else 200
    return render_template("auth/login.html", form=form, error=error, guardian=False), status


@bp.route("/guardian/login", methods=["GET", "POST"])
@allow(PUBLIC)
def guardian_login() -> Response | str | tuple[str, int]:
    form = GuardianLoginForm()
    error = None
    if form.validate_on_submit():
        try:
            who = accounts.login_guardian(
                tutela(),
                form.document.data or "",
                form.password.data or "",
                address=client_address(),
            )
        except TutelaError as failure:
            error = describe(failure)
        else:
            return _signed_in(who.session_id, "guardian.inbox")
    status = 400 if error or form.errors else 200
    return render_template("auth/login.html", form=form, error=error, guardian=True), status


def _signed_in(token: str, home: str) -> Response:
    # A fresh cookie session: nothing from before the login survives (session fixation).
    target = request.args.get("next", "")
    session.clear()
    session["token"] = token
    if not target.startswith("/") or target.startswith("//"):
        target = url_for(home)
    return redirect(target, code=303)


@bp.post("/logout")
@allow(*ANY_STAFF, GUARDIAN)
def logout() -> Response:
    who = principal()
    if who is not None:
        accounts.end_session(tutela(), who.session_id)
    session.clear()
    return redirect(url_for("auth.index"), code=303)


@bp.get("/")
@allow(PUBLIC)
def index() -> Response | str:
    who = principal()
    if who is not None:
        role = GUARDIAN if who.kind == GUARDIAN else (who.role or "")
        if role in HOME_OF_ROLE:
            return redirect(url_for(HOME_OF_ROLE[role]))
    return render_template("auth/index.html")


@bp.get("/healthz")
@allow(PUBLIC)
def health() -> tuple[str, int, dict[str, str]]:
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


def reauthenticate(password: str, wrong: str) -> tuple[str, int] | None:
    """The signed-in staff member's password, typed again for one consequential act; the
    message and status to answer with when refused (``wrong`` for a wrong password, which
    says what was left undone), or None."""
    who = principal()
    assert who is not None  # the view's @allow let only a signed-in staff member through
    try:
        accounts.check_staff_password(tutela(), who.id, password, address=client_address())
    except ThrottledError as failure:
        return describe(failure), 429
    except SignatureError:
        return wrong, 403
    except TutelaError as failure:
        return describe(failure), status_of(failure)
    return None
