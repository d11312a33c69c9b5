"""The border desk (`/border`)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("border", __name__, url_prefix="/border")

from guardian_portal.border import views  # noqa: E402, F401 - registers the routes
