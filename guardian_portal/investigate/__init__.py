"""The investigator's workbench (`/investigate`)."""

from __future__ import annotations

from flask import Blueprint

from guardian_portal.investigate.words import helpers

bp = Blueprint("investigate", __name__, url_prefix="/investigate")
bp.context_processor(helpers)

# Imported for their routes, after ``bp`` exists.
from guardian_portal.investigate import exports, flags, views  # noqa: E402, F401
