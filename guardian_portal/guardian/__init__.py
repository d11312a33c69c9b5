"""The guardians' desk (``/guardian``): activation, inbox, decisions, history."""

from __future__ import annotations

from flask import Blueprint

from guardian_portal.guardian.words import helpers

bp = Blueprint("guardian", __name__, url_prefix="/guardian")
bp.context_processor(helpers)

from guardian_portal.guardian import views  # noqa: E402, F401 - registers the routes
