"""What the workbench's pages share: the role, the case a request is made under, and the
pages that say a case is missing or the input is wrong."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _

from guardian_portal.errors import describe
from guardian_portal.investigate import case
from guardian_portal.investigate.forms import CaseForm
from ledger_client.errors import InputError
from ledger_client.services.investigation import Case
from ledger_client.store.models import StaffRole

INVESTIGATOR = StaffRole.INVESTIGATOR.value
Page = tuple[str, int]


class RefusedError(Exception):
    """The request cannot go on (no usable case, bad input): the page to answer with."""

    def __init__(self, page: Page) -> None:
        super().__init__("answered with a refusal page")
        self.page = page


def case_of_request(number: str | None, reason: str | None) -> Case:
    """The case typed with this request, else the one held for the session.

    When a case is asked for, the request's other fields ride along in the case form, so
    that "Continue" sends the same request on, with its case.

    Args:
        number: The case number typed with this request, if any.
        reason: The reason typed with it.

    Raises:
        RefusedError: no case typed nor held (the case form, 200 on a GET, 400 on a POST), or
            the typed one is not valid (the case form with its messages, 400).
    """
    sent = request.form if request.method == "POST" else request.args
    carry = {k: v for k, v in sent.items() if k not in ("csrf_token", "case_number", "reason")}
    try:
        found = case.from_fields(number, reason)
    except InputError:
        form = CaseForm()
        form.validate()
        form.csrf_token.errors = []
        if not (form.case_number.errors or form.reason.errors):
            form.case_number.errors = [describe(InputError("the case is not valid"))]
        raise RefusedError(case_page(form, carry, 400)) from None
    if found is None:
        status = 200 if request.method == "GET" else 400
        raise RefusedError(case_page(CaseForm(formdata=None), carry, status))
    return found


def case_page(form: CaseForm, carry: dict[str, str], status: int) -> Page:
    """Asks for the case number and reason, then sends the same request on with them."""
    page = render_template(
        "investigate/case.html",
        form=form,
        action=request.path,
        carry=carry,
    )
    return page, status


def bad_input(message: str | None = None, status: int = 400) -> Page:
    """Nothing was done: the input was wrong."""
    text = message or _("Some of what you sent is not valid. Nothing was looked up.")
    return render_template("errors/error.html", status=status, message=text), status
