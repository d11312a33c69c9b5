"""Border desk pages: scan or type a card, match the child, ask the guardians, record.

Built for an officer at 3 a.m. with a queue: one field to scan into, the child's photo
large, the status in colour and in words, and from every page a next step.
"""

from __future__ import annotations

import logging

from flask import abort, flash, jsonify, redirect, render_template, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from guardian_portal.auth import allow
from guardian_portal.border import bp
from guardian_portal.border.forms import CrossingForm, OutcomeForm, ScanForm, border_points
from guardian_portal.border.words import (
    REASONS,
    STATUS_WORDS,
    can_record,
    delivery_problem,
    status_words,
)
from guardian_portal.errors import describe, status_of
from guardian_portal.hooks import audit, principal, tutela
from guardian_portal.registry.pictures import photo_source
from guardian_portal.registry.words import words
from ledger_client import card_qr
from ledger_client.cards import format_card
from ledger_client.errors import InputError, NotFoundError, SignatureError, TutelaError
from ledger_client.services import children, crossings, desk_reads
from ledger_client.services.children import ChildView
from ledger_client.services.crossings import CrossingView
from ledger_client.store.models import StaffRole

logger = logging.getLogger(__name__)

OFFICER = StaffRole.BORDER_OFFICER.value
Page = str | tuple[str, int]
# The officer's post, remembered between children: the same for a whole shift.
_POST_KEY = "border_point"

bp.context_processor(words)
bp.context_processor(lambda: {"delivery_problem": delivery_problem})


@bp.route("/", methods=["GET", "POST"])
@allow(OFFICER)
def home() -> Response | Page:
    form = ScanForm()
    error: str | None = None
    forged = False
    status = 200
    if form.validate_on_submit():
        text = (form.card.data or "").strip()
        try:
            card, scanned = _card_of(text)
            children.show_child(tutela(), card)  # an unknown card is told here, at the field
        except SignatureError:
            forged, status = True, 403
            logger.warning("a card QR code with a signature that is not the registry's was scanned")
        except InputError as failure:
            error, status = _card_problem(failure, scanned=card_qr.looks_like_payload(text))
        except TutelaError as failure:
            error, status = _card_problem(failure)
        else:
            if scanned:
                flash(_("Genuine card: the registry's signature on its QR code is valid."))
            return redirect(url_for("border.child", card=format_card(card)), 303)
        form.card.data = ""  # ready for the next scan
    elif form.is_submitted():
        status = 400
    return render_template("border/home.html", form=form, error=error, forged=forged), status


@bp.route("/children/<card>", methods=["GET", "POST"])
@allow(OFFICER)
def child(card: str) -> Response | Page:
    view = _child(card)
    form = CrossingForm()
    if not form.is_submitted() and session.get(_POST_KEY) in border_points():
        form.border_point.data = session[_POST_KEY]
    error: str | None = None
    status = 200
    if form.is_submitted():
        status = 400
        if view.status != "active":
            error, status = _("This record is not active: no crossing can be requested."), 409
        elif form.validate():
            session[_POST_KEY] = form.border_point.data
            try:
                asked = crossings.request_crossing(
                    tutela(),
                    view.card,
                    direction=form.direction.data or "",
                    border_point=form.border_point.data or "",
                    companion_name=form.companion_name.data or "",
                    companion_document=form.companion_document.data or "",
                    expires_in_minutes=int(form.expires_in.data or 0),
                    acting_as=_me(),
                )
            except TutelaError as failure:
                error, status = describe(failure), status_of(failure)
            else:
                if asked.direction == "entry":
                    flash(_("Entry logged. No guardian approval is needed: record the outcome."))
                else:
                    flash(_("Request sent. The guardians are being notified."))
                return redirect(url_for("border.request_page", request_id=asked.request), 303)
    audit("read-child", view.card, page="border-child")
    return render_template(
        "border/child.html",
        child=view,
        photo=photo_source(view.child_id),
        typed_card=format_card(card),
        form=form,
        error=error,
    ), status


@bp.get("/requests/<int:request_id>")
@allow(OFFICER)
def request_page(request_id: int) -> Page:
    return _request_page(request_id, OutcomeForm(), None, 200)


@bp.post("/requests/<int:request_id>/outcome")
@allow(OFFICER)
def outcome(request_id: int) -> Response | Page:
    form = OutcomeForm()
    if not form.validate_on_submit():
        return _request_page(request_id, form, _("Choose 'Crossed' or 'Turned back'."), 400)
    chosen = form.outcome.data or ""
    try:
        recorded = crossings.record_outcome(
            tutela(), str(request_id), outcome=chosen, acting_as=_me()
        )
    except TutelaError as failure:
        return _request_page(request_id, form, describe(failure), status_of(failure))
    if recorded.status == "crossed":
        flash(_("Recorded: the child crossed."))
    else:
        flash(_("Recorded: the child was turned back."), "warning")
    return redirect(url_for("border.request_page", request_id=request_id), 303)


@bp.get("/requests/<int:request_id>/status.json")
@allow(OFFICER)
def request_status(request_id: int) -> Response:
    """The request's state for the page's script: no personal data, so no audit entry.

    Whether any guardian can still be reached is asked only while the request waits for
    them: afterwards it no longer matters to the officer.
    """
    crossing = _crossing(request_id)
    left = desk_reads.seconds_left(tutela(), crossing.expires_at)
    waiting = crossing.direction == "exit" and crossing.status == "pending"
    report = desk_reads.delivery_report(tutela(), request_id) if waiting else None
    return jsonify(
        request=crossing.request,
        status=crossing.status,
        words=status_words(crossing),
        reason=str(REASONS.get(crossing.status, "")),
        seconds_left=left,
        time_left=_time_left(left),
        can_cross=can_record(crossing)[0],
        can_turn_back=can_record(crossing)[1],
        final=crossing.status != "pending",
        nobody_reached=bool(report and report.nobody_reached),
        # The states of the messages to the guardians: the page reloads its list when they
        # change, so "sending" never stays on screen after a message got through or failed.
        deliveries=",".join(d.state for d in report.deliveries) if report else None,
    )


def _request_page(request_id: int, form: OutcomeForm, error: str | None, status: int) -> Page:
    crossing = _crossing(request_id)
    view = _child(crossing.card)
    companion = crossings.companion_of(tutela(), request_id)
    audit("read-child", view.card, page="border-request", request=request_id)
    left = desk_reads.seconds_left(tutela(), crossing.expires_at)
    can_cross, can_turn_back = can_record(crossing)
    return render_template(
        "border/request.html",
        crossing=crossing,
        child=view,
        photo=photo_source(view.child_id),
        companion=companion,
        deliveries=desk_reads.delivery_report(tutela(), request_id),
        seconds_left=left,
        time_left=_time_left(left),
        words=status_words(crossing),
        reason=REASONS.get(crossing.status),
        can_cross=can_cross,
        can_turn_back=can_turn_back,
        status_names=list(STATUS_WORDS),
        form=form,
        error=error,
    ), status


# -- helpers -----------------------------------------------------------------------------------


def _me() -> str:
    who = principal()
    assert who is not None  # @allow(OFFICER) let only a signed-in officer through
    return who.name


def _card_of(text: str) -> tuple[str, bool]:
    """The card number in what was scanned or typed, and whether it came from a QR code.

    Raises:
        SignatureError: a QR payload the registry did not sign.
        InputError: neither a card payload nor a well-formed card number.
    """
    if card_qr.looks_like_payload(text):
        public_key = card_qr.card_public_key(tutela().settings)
        return card_qr.verify_card(public_key, text).card, True
    return format_card(text), False


def _card_problem(failure: TutelaError, *, scanned: bool = False) -> tuple[str, int]:
    if scanned:
        return _(
            "This desk cannot read this card's QR code. Type the card number printed on the "
            "card instead. If the card has no number, do not let the child cross."
        ), 400
    if isinstance(failure, NotFoundError):
        return _(
            "No child has this card number. Type it again from the card, or scan its QR code. "
            "If it is still not found, do not let the child cross: call the registry's "
            "duty line."
        ), 404
    if isinstance(failure, InputError):
        return _(
            "This is not a card number nor a Tutela card's QR code. A card number has "
            "10 digits, as 1234-5678-90. Type it again, or scan the QR code."
        ), 400
    return describe(failure), status_of(failure)


def _child(card: str) -> ChildView:
    try:
        return children.show_child(tutela(), card)
    except (NotFoundError, InputError):
        abort(404)


def _crossing(request_id: int) -> CrossingView:
    try:
        return crossings.show_crossing(tutela(), request_id)
    except (NotFoundError, InputError):
        abort(404)


def _time_left(seconds: int) -> str:
    if seconds <= 0:
        return _("No time left.")
    minutes, rest = divmod(seconds, 60)
    if minutes >= 60:
        return _("%(hours)s h %(minutes)s min left", hours=minutes // 60, minutes=minutes % 60)
    if minutes:
        return _("%(minutes)s min %(seconds)s s left", minutes=minutes, seconds=rest)
    return _("%(seconds)s s left", seconds=rest)
