"""English, Romanian and Russian: the switch's choice, else the browser's, else English."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, request
from werkzeug.wrappers import Response

from guardian_portal.auth import PUBLIC, allow

LANGUAGES = {"en": "English", "ro": "Română", "ru": "Русский"}
LANGUAGE_COOKIE = "tutela_lang"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


@bp.post("/language")
@allow(PUBLIC)
def switch_language() -> Response:
    chosen = request.form.get("language", "")
    # Back to the page the switch was on, but only within the portal.
    target = request.form.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = redirect(target, code=303)
    if chosen in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen,
            max_age=365 * 24 * 3600,
            secure=True,
            httponly=True,
            samesite="Lax",
        )
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def languages() -> dict[str, object]:
        return {"languages": LANGUAGES, "current_language": select_locale()}
