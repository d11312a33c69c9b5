"""The Tutela portal: one Flask application, one blueprint per role.

The portal reads and writes only through ``ledger_client`` services; it never talks to web3
or the ORM itself, and it gets frozen dataclasses back.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from guardian_portal import auth, errors, i18n, security
from guardian_portal.extensions import babel, csrf
from guardian_portal.hooks import TUTELA_EXTENSION
from ledger_client.services.context import Tutela
from ledger_client.settings import PORTAL_KEY


def create_app(tutela: Tutela, test_config: dict[str, Any] | None = None) -> Flask:
    """Builds the portal around an open Tutela (store, chain, keys)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=tutela.settings.secret(PORTAL_KEY),
        SESSION_COOKIE_NAME="tutela",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # A photo is re-encoded to at most 600x800; 6 MB leaves room for the upload itself.
        MAX_CONTENT_LENGTH=6 * 1024 * 1024,
        # The CSRF token lives as long as the login session, not a fixed hour: an officer's
        # form left open on a slow night still posts.
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_TRANSLATION_DIRECTORIES="translations",
        BABEL_DEFAULT_LOCALE="en",
    )
    if test_config:
        app.config.update(test_config)
    app.extensions[TUTELA_EXTENSION] = tutela
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    security.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    _register_desks(app)
    return app


def _register_desks(app: Flask) -> None:
    # Imported here: each desk imports the helpers above, which must exist first.
    from guardian_portal import audit_desk, border, guardian, investigate, protection, registry, sms

    app.register_blueprint(guardian.bp)
    app.register_blueprint(registry.bp)
    app.register_blueprint(border.bp)
    app.register_blueprint(protection.bp)
    app.register_blueprint(sms.bp)
    app.register_blueprint(investigate.bp)
    app.register_blueprint(audit_desk.bp)
