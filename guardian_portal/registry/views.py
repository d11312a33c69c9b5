"""Registry desk pages: find a child, enrol one, and the child's record with its actions.

Activation codes (new guardian accounts, re-verified guardians) are stored nowhere in clear,
so they are shown on the answer to the POST that made them, and only there: a reload sends
the form again, finds its ``form_id`` spent, and leads to the child's page without them.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from guardian_portal.auth import allow
from guardian_portal.errors import describe, status_of
from guardian_portal.hooks import audit, principal, tutela
from guardian_portal.registry import bp
from guardian_portal.registry.forms import (
    ConfirmForm,
    CorrectForm,
    EnrolForm,
    GuardianForm,
    PhotoForm,
    ReverifyForm,
    RevokeForm,
    SearchForm,
)
from guardian_portal.registry.pictures import (
    card_qr_svg,
    issue_date,
    photo_source,
    prepared_upload,
)
from guardian_portal.registry.words import words
from ledger_client.cards import format_card
from ledger_client.errors import ConflictError, InputError, NotFoundError, TutelaError
from ledger_client.services import children, desk_reads, guardians, registry_desk
from ledger_client.services.children import ChildView, GuardianView
from ledger_client.services.guardian_keys import ActivationCode
from ledger_client.store.models import StaffRole

REGISTRAR = StaffRole.REGISTRAR.value
Page = str | tuple[str, int]
# How many spent form ids a login remembers: far more than one official's open tabs.
_SPENT_KEPT = 20

bp.context_processor(words)


@bp.get("/")
@allow(REGISTRAR)
def home() -> Response | Page:
    form = SearchForm(request.args)
    if "card" not in request.args:
        return render_template("registry/home.html", form=form, error=None)
    error = None
    if form.validate():
        try:
            found = children.show_child(tutela(), form.card.data or "")
        except TutelaError as failure:
            error, status = _card_problem(failure)
        else:
            return redirect(url_for("registry.child", card=found.card), 303)
    else:
        status = 400
    return render_template("registry/home.html", form=form, error=error), status


@bp.route("/enrol", methods=["GET", "POST"])
@allow(REGISTRAR)
def enrol() -> Response | Page:
    form = EnrolForm()
    if not form.is_submitted():
        form.form_id.data = secrets.token_urlsafe(16)
        return render_template("registry/enrol.html", form=form, error=None, similar=[])
    spent = _spent(form.form_id.data)
    if spent:
        return spent
    if not form.validate():
        return _enrol_page(form, None, [], 400)
    photo = None
    if form.photo.data:
        try:
            photo = prepared_upload(form.photo.data)
        except InputError:
            form.photo.errors = [_("The photo must be a JPEG or PNG image of at most 5 MB.")]
            return _enrol_page(form, None, [], 400)
    similar = _similar(form)
    if similar and not form.enrol_anyway.data:
        warning = _(
            "A child with the same name and birth date is registered already. Open the "
            "record(s) below and check: if it is the same child, do not enrol again. If it is "
            "another child, tick the box and send again."
        )
        return _enrol_page(form, warning, similar, 409)
    try:
        view = registry_desk.enrol_child(
            tutela(),
            photo=photo,
            given_name=form.given_name.data or "",
            family_name=form.family_name.data or "",
            birth_date=form.birth_date.data.isoformat(),
            birth_place=form.birth_place.data or "",
            guardian_specs=form.guardian_specs(),
            policy=form.policy_text(),
            acting_as=_me(),
        )
    except ConflictError:
        registered = _(
            "This child is registered already, with the same name, birth date and birth "
            "place. Open the existing record instead."
        )
        return _enrol_page(form, registered, _similar(form), 409)
    except TutelaError as failure:
        return _enrol_page(form, describe(failure), similar, status_of(failure))
    return _receipt(form.form_id.data, view, view.activation_codes, photo is not None)


def _enrol_page(form: EnrolForm, error: str | None, similar: list[str], status: int) -> Page:
    return render_template(
        "registry/enrol.html",
        form=form,
        error=error,
        similar=similar,
        # A browser never sends a chosen file again: the official must choose it again.
        photo_again=bool(form.photo.data),
    ), status


@bp.get("/children/<card>")
@allow(REGISTRAR)
def child(card: str) -> Page:
    view = _child(card)
    audit("read-child", view.card, page="registry-child")
    return render_template(
        "registry/child.html",
        child=view,
        photo=photo_source(view.child_id),
        typed_card=format_card(card),
    )


@bp.get("/children/<card>/card")
@allow(REGISTRAR)
def print_card(card: str) -> Page:
    view = _child(card)
    if view.status != "active":
        return render_template("registry/print_card.html", child=view, qr=None, photo=None), 409
    issued = issue_date()
    qr = card_qr_svg(view, issued)
    audit("print-card", view.card, page="registry-print-card", issued=issued.isoformat())
    return render_template(
        "registry/print_card.html",
        child=view,
        qr=qr,
        issued=issued,
        photo=photo_source(view.child_id),
    )


@bp.route("/children/<card>/guardians/add", methods=["GET", "POST"])
@allow(REGISTRAR)
def add_guardian(card: str) -> Response | Page:
    view = _active_child(card, page="registry-add-guardian")
    form = GuardianForm()
    if not form.is_submitted():
        form.form_id.data = secrets.token_urlsafe(16)
        return render_template("registry/add_guardian.html", child=view, form=form, error=None)
    spent = _spent(form.form_id.data)
    if spent:
        return spent
    error, status = None, 400
    if form.validate():
        try:
            after = children.add_guardian(tutela(), view.card, form.spec(), acting_as=_me())
        except TutelaError as failure:
            error, status = describe(failure), status_of(failure)
            if isinstance(failure, ConflictError):
                error = _("The holder of this document is one of the child's guardians already.")
        else:
            flash(_("The guardian was added."))
            if not after.activation_codes:
                # The person has an account already (guardian of another child): no new code.
                _spend(form.form_id.data, after.card)
                flash(
                    _(
                        "This person has a guardian account already: their password and PIN "
                        "work for this child too."
                    )
                )
                return redirect(url_for("registry.child", card=after.card), 303)
            return _receipt(form.form_id.data, after, after.activation_codes, None)
    return render_template("registry/add_guardian.html", child=view, form=form, error=error), status


@bp.route("/children/<card>/guardians/<address>/remove", methods=["GET", "POST"])
@allow(REGISTRAR)
def remove_guardian(card: str, address: str) -> Response | Page:
    view = _active_child(card, page="registry-remove-guardian")
    guardian = _guardian(view, address)
    form = ConfirmForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            children.remove_guardian(tutela(), view.card, guardian.document, acting_as=_me())
        except TutelaError as failure:
            error, status = describe(failure), status_of(failure)
        else:
            flash(_("The guardian was removed."))
            return redirect(url_for("registry.child", card=view.card), 303)
    elif form.is_submitted():
        status = 400
    return render_template(
        "registry/remove_guardian.html", child=view, guardian=guardian, form=form, error=error
    ), status


@bp.route("/children/<card>/guardians/<address>/reverify", methods=["GET", "POST"])
@allow(REGISTRAR)
def reverify(card: str, address: str) -> Response | Page:
    # Before the guardian is looked up: after a re-verification their address is new.
    spent = _spent(request.form.get("form_id")) if request.method == "POST" else None
    if spent:
        return spent
    view = _active_child(card, page="registry-reverify")
    guardian = _guardian(view, address)
    form = ReverifyForm()
    if not form.is_submitted():
        form.form_id.data = secrets.token_urlsafe(16)
        return render_template(
            "registry/reverify.html", child=view, guardian=guardian, form=form, error=None
        )
    error, status = None, 400
    if form.validate():
        try:
            code = guardians.reverify_guardian(
                tutela(), view.card, document=guardian.document, acting_as=_me()
            )
        except TutelaError as failure:
            error, status = describe(failure), status_of(failure)
            if isinstance(failure, ConflictError):
                # The same re-verification within the minute is taken for a repeat of it.
                error = _(
                    "This guardian was given a new code a moment ago. If that code was lost, "
                    "wait a minute and try again."
                )
        else:
            return _receipt(form.form_id.data, _child(view.card), (code,), None)
    return render_template(
        "registry/reverify.html", child=view, guardian=guardian, form=form, error=error
    ), status


@bp.route("/children/<card>/correct", methods=["GET", "POST"])
@allow(REGISTRAR)
def correct(card: str) -> Response | Page:
    view = _active_child(card, page="registry-correct")
    if request.method == "GET":
        form = CorrectForm(data=_child_fields(view))
        return render_template("registry/correct.html", child=view, form=form, error=None)
    form = CorrectForm()
    error, status = None, 400
    if form.validate():
        try:
            after = registry_desk.correct_child(
                tutela(),
                view.card,
                given_name=form.given_name.data,
                family_name=form.family_name.data,
                birth_date=form.birth_date.data.isoformat(),
                birth_place=form.birth_place.data,
                acting_as=_me(),
            )
        except TutelaError as failure:
            error, status = describe(failure), status_of(failure)
            # The service compares the commitments, so it alone knows that a change of case
            # or spacing changes nothing; its English message is fixed, unlike a translation.
            if isinstance(failure, InputError) and str(failure).startswith("nothing to correct"):
                error = _("Nothing to correct: the record holds these details already.")
        else:
            flash(
                _(
                    "The record was corrected. The child has a new card number, %(card)s: "
                    "print the new card. The old card still leads to this record.",
                    card=after.card,
                )
            )
            return redirect(url_for("registry.child", card=after.card), 303)
    return render_template("registry/correct.html", child=view, form=form, error=error), status


@bp.route("/children/<card>/revoke", methods=["GET", "POST"])
@allow(REGISTRAR)
def revoke(card: str) -> Response | Page:
    view = _active_child(card, page="registry-revoke")
    form = RevokeForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            children.revoke_child(
                tutela(),
                view.card,
                reason=form.reason.data or "",
                code=form.code.data or "other",
                acting_as=_me(),
            )
        except TutelaError as failure:
            error, status = describe(failure), status_of(failure)
        else:
            flash(_("The record was revoked. No crossing can be requested on it."), "warning")
            return redirect(url_for("registry.child", card=view.card), 303)
    elif form.is_submitted():
        status = 400
    return render_template("registry/revoke.html", child=view, form=form, error=error), status


@bp.route("/children/<card>/photo", methods=["GET", "POST"])
@allow(REGISTRAR)
def photo(card: str) -> Response | Page:
    view = _active_child(card, page="registry-photo")
    form = PhotoForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            if not form.photo.data:
                raise InputError("no photo was chosen")
            prepared = prepared_upload(form.photo.data)
        except InputError:
            form.photo.errors = [_("Choose a JPEG or PNG image of at most 5 MB.")]
            status = 400
        else:
            try:
                registry_desk.change_photo(tutela(), view.card, prepared)
            except TutelaError as failure:
                error, status = describe(failure), status_of(failure)
            else:
                audit("change-photo", view.card, page="registry-photo")
                flash(_("The photo was saved. Print a new card with it."))
                return redirect(url_for("registry.child", card=view.card), 303)
    elif form.is_submitted():
        status = 400
    return render_template(
        "registry/photo.html", child=view, form=form, error=error, photo=photo_source(view.child_id)
    ), status


# -- helpers -----------------------------------------------------------------------------------


def _me() -> str:
    who = principal()
    assert who is not None  # @allow(REGISTRAR) let only a signed-in official through
    return who.name


def _child(card: str) -> ChildView:
    """The record a card leads to; an unknown or malformed card is a 404 page."""
    try:
        return children.show_child(tutela(), card)
    except (NotFoundError, InputError):
        abort(404)


def _active_child(card: str, *, page: str) -> ChildView:
    """The record of an action page, its read audited; an inactive record sends the official
    back to it (it can no longer change), an unknown card is a 404."""
    view = _child(card)
    if view.status != "active":
        abort(_not_active(view))
    audit("read-child", view.card, page=page)
    return view


def _not_active(view: ChildView) -> Response:
    """Back to the record, which says why: an inactive record can no longer change."""
    flash(_("This record is not active: it can no longer change."), "warning")
    return redirect(url_for("registry.child", card=view.card), 303)


def _guardian(view: ChildView, address: str) -> GuardianView:
    # Guardians are named in addresses by their on-chain address: opaque, unlike a document.
    for guardian in view.guardians:
        if guardian.address.lower() == address.lower():
            return guardian
    abort(404)


def _card_problem(failure: TutelaError) -> tuple[str, int]:
    if isinstance(failure, NotFoundError):
        return _("No child has this card number. Check the number and try again."), 404
    if isinstance(failure, InputError):
        return _("A card number has 10 digits, as 1234-5678-90. Check for a typing error."), 400
    return describe(failure), status_of(failure)


def _similar(form: EnrolForm) -> list[str]:
    return desk_reads.similar_children(
        tutela(),
        form.given_name.data or "",
        form.family_name.data or "",
        form.birth_date.data.isoformat(),
    )


def _child_fields(view: ChildView) -> dict[str, Any]:
    return {
        "given_name": view.given_name,
        "family_name": view.family_name,
        "birth_date": date.fromisoformat(view.birth_date),
        "birth_place": view.birth_place,
    }


def _receipt(
    form_id: str | None,
    view: ChildView,
    codes: tuple[ActivationCode, ...],
    with_photo: bool | None,
) -> Page:
    """The printable receipt with the activation codes, on the POST's own answer."""
    _spend(form_id, view.card)
    audit("read-child", view.card, page="registry-receipt", codes=len(codes))
    return render_template(
        "registry/receipt.html",
        child=view,
        codes=codes,
        with_photo=with_photo,
        photo=photo_source(view.child_id),
    )


def _spend(form_id: str | None, card: str) -> None:
    if not form_id:
        return
    spent = dict(session.get("spent_forms", {}))
    spent[form_id] = card
    session["spent_forms"] = dict(list(spent.items())[-_SPENT_KEPT:])


def _spent(form_id: str | None) -> Response | None:
    """A redirect to the child's page when this form was sent and acted on before."""
    card = session.get("spent_forms", {}).get(form_id or "")
    if card is None:
        return None
    flash(
        _(
            "This form was sent already and its action is saved. Activation codes are shown "
            "only once: if one was lost, re-verify that guardian for a new code."
        ),
        "warning",
    )
    return redirect(url_for("registry.child", card=card), 303)
