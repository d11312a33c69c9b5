"""Fixtures of the portal tests: the Flask app around a real Tutela on the embedded chain,
staff with portal logins, and clients logged in as each role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient

from guardian_portal import create_app
from ledger_client.services import accounts, staff
from tests.conftest import World
from tests.portal.support import log_in_staff

# Portal logins of the embedded world's staff (tests/conftest.py names them by role).
STAFF_PASSWORDS = {
    "registrar": "registrar-password-long",
    "officer": "officer-password-long",
    "protector": "protector-password-long",
    "investigator": "investigator-password-long",
    "auditor": "auditor-password-long",
}
ROLE_MEMBER = {
    "registrar": "registrar",
    "border-officer": "officer",
    "child-protection": "protector",
    "investigator": "investigator",
    "auditor": "auditor",
}


@dataclass
class Portal:
    app: Flask
    world: World
    _clients: list[FlaskClient] = field(default_factory=list)

    @property
    def tutela(self):  # type: ignore[no-untyped-def]
        return self.world.tutela

    def client(self) -> FlaskClient:
        # The portal's cookies are Secure: the test client speaks HTTPS like a real browser.
        client = self.app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
        self._clients.append(client)
        return client

    def staff_client(self, role: str) -> FlaskClient:
        """A client logged in as the world's member of this staff role."""
        client = self.client()
        name = ROLE_MEMBER[role]
        log_in_staff(client, name, STAFF_PASSWORDS[name])
        return client


@pytest.fixture
def portal(embedded_world: World) -> Portal:
    tutela = embedded_world.tutela
    staff.add_staff(tutela, "investigator", "investigator")
    staff.add_staff(tutela, "auditor", "auditor")
    for name, password in STAFF_PASSWORDS.items():
        accounts.set_staff_password(tutela, name, password, totp=False)
    app = create_app(tutela, {"TESTING": True})
    return Portal(app, embedded_world)


@pytest.fixture
def as_role(portal: Portal) -> Callable[[str], FlaskClient]:
    return portal.staff_client
