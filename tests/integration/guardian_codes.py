"""The activation codes enrolment hands out, kept for the tests that decide as a guardian.

A code is shown once, when the guardian's account is made; a guardian of a second child
keeps the first code. Codes are kept per data folder, so a module-scoped world that enrols
the same parents twice still finds them, and no test sees another folder's codes.
"""

from __future__ import annotations

from ledger_client.identity import normalise_document
from ledger_client.services import crossings
from ledger_client.services.children import ChildView
from ledger_client.services.context import Tutela

_CODES: dict[tuple[str, str], str] = {}


def keep(tutela: Tutela, view: ChildView) -> ChildView:
    """Remembers the codes an enrolment or an added guardian gave; returns ``view``."""
    for code in view.activation_codes:
        _CODES[(str(tutela.settings.data_dir), code.document)] = code.code
    return view


def code_of(tutela: Tutela, document: str) -> str:
    """The activation code of the guardian with this document, in this data folder."""
    return _CODES[(str(tutela.settings.data_dir), normalise_document(document))]


def decide(
    tutela: Tutela, request: str, document: str, *, approve: bool = True
) -> crossings.DecisionView:
    """The guardian decides with their activation code (they have not activated yet)."""
    return crossings.decide_as_guardian(
        tutela,
        request,
        guardian_document=document,
        approve=approve,
        secret=code_of(tutela, document),
    )
