"""The child-protection desk (`/protection`)."""

from __future__ import annotations

from flask import Blueprint

from guardian_portal.guardian.words import helpers

bp = Blueprint("protection", __name__, url_prefix="/protection")
bp.context_processor(helpers)

from guardian_portal.protection import views  # noqa: E402, F401 - registers the routes
