"""Risk flags: the list, one flag with the people and crossings behind it and its review
notes, and the review itself, with a note and the investigator's password typed again.

The risk engine raises flags from the index; a person decides what they mean. A review is
audited by the service (the note's hash, never the note), and its note is sealed.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from guardian_portal.auth import allow, reauthenticate
from guardian_portal.errors import describe, status_of
from guardian_portal.hooks import tutela
from guardian_portal.investigate import bp, case
from guardian_portal.investigate.common import INVESTIGATOR, Page
from guardian_portal.investigate.forms import ReviewForm
from ledger_client.errors import InputError, NotFoundError, TutelaError
from ledger_client.risk import flags as risk_flags
from ledger_client.risk.flags import FlagView
from ledger_client.services import investigation
from ledger_client.services.investigation import Person


@bp.get("/flags")
@allow(INVESTIGATOR)
def flags() -> Page:
    show_all = request.args.get("all") == "1"
    error = None
    try:
        found = investigation.flags_with_people(tutela(), case.actor(), open_only=not show_all)
    except TutelaError as failure:
        found, error = [], describe(failure)
    page = render_template("investigate/flags.html", flags=found, show_all=show_all, error=error)
    return page, 200 if error is None else 503


@bp.get("/flags/<int:flag_id>")
@allow(INVESTIGATOR)
def flag(flag_id: int) -> Page:
    return _flag_page(_flag_with_people(flag_id), ReviewForm(formdata=None), 200)


@bp.post("/flags/<int:flag_id>/review")
@allow(INVESTIGATOR)
def review(flag_id: int) -> Response | Page:
    form = ReviewForm()
    shown = _flag_with_people(flag_id)  # an unknown flag is a 404 before the form is read
    if not form.validate_on_submit():
        return _flag_page(shown, form, 400)
    problem = reauthenticate(
        form.password.data or "", _("The password is wrong. The flag was not marked reviewed.")
    )
    if problem is not None:
        form.password.errors = [problem[0]]
        return _flag_page(shown, form, problem[1])
    try:
        with tutela().database.transaction() as session:
            reviewed = risk_flags.review_flag(
                session, flag_id, case.actor(), form.note.data or "", tutela().master_key
            )
    except NotFoundError:
        abort(404)
    except InputError as failure:
        form.note.errors = [describe(failure)]
        return _flag_page(shown, form, 400)
    except TutelaError as failure:
        return _flag_page(shown, form, status_of(failure), describe(failure))
    flash(_("Flag %(number)s is marked reviewed. Your note is kept with it.", number=reviewed.id))
    return redirect(url_for("investigate.flag", flag_id=flag_id), code=303)


def _flag_page(
    shown: tuple[FlagView, tuple[Person, ...]],
    form: ReviewForm,
    status: int,
    error: str | None = None,
) -> Page:
    found, people = shown
    with tutela().database.reading() as session:
        notes = risk_flags.review_notes(session, found.id, tutela().master_key)
    page = render_template(
        "investigate/flag.html",
        flag=found,
        people=people,
        notes=notes,
        form=form,
        error=error,
        crossing_links=_crossing_links(found.crossings, people),
    )
    return page, status


def _flag_with_people(flag_id: int) -> tuple[FlagView, tuple[Person, ...]]:
    """The flag and its people (the service audits the look); an unknown id is a 404."""
    try:
        return investigation.flag_with_people(tutela(), case.actor(), flag_id)
    except NotFoundError:
        abort(404)


def _crossing_links(crossings: tuple[int, ...], people: tuple[Person, ...]) -> dict[int, str]:
    """Where each crossing can be read: on the timeline of the child it was made for (a flag
    about a companion spans several children; the service says whose each crossing was)."""
    found: dict[int, str] = {}
    for person in people:
        if person.role != "child" or not person.card_number:
            continue
        timeline = url_for("investigate.timeline", card=person.card_number)
        for number in person.crossings:
            found.setdefault(number, f"{timeline}#request-{number}")
    return {number: found[number] for number in crossings if number in found}
