"""The auditor's desk (`/audit`): the audit log, its private parts opened, and its chain."""

from __future__ import annotations

from flask import Blueprint

from guardian_portal.audit_desk.words import helpers as audit_helpers
from guardian_portal.guardian.words import helpers

bp = Blueprint("audit_desk", __name__, url_prefix="/audit")
bp.context_processor(helpers)
bp.context_processor(audit_helpers)

from guardian_portal.audit_desk import views  # noqa: E402, F401 - registers the routes
