"""The registry desk (`/registry`)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("registry", __name__, url_prefix="/registry")

from guardian_portal.registry import views  # noqa: E402, F401 - registers the routes
