"""Helpers of the portal tests: log in, post a form the way a browser does (with its CSRF
token), and read the page's text."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger_client.services import children, crossings
from ledger_client.services.children import ChildView
from ledger_client.services.context import Tutela

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def text_of(response: TestResponse) -> str:
    """The page as a user reads it: tags dropped, entities decoded, spaces collapsed."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def submit(
    client: FlaskClient,
    url: str,
    data: dict[str, Any],
    *,
    form_page: str | None = None,
    follow: bool = False,
) -> TestResponse:
    """GETs the form page (``url`` unless given), then POSTs ``data`` with its CSRF token."""
    page = client.get(form_page or url)
    token = csrf_of(page.get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=follow)


def log_in_staff(client: FlaskClient, name: str, password: str, code: str = "") -> TestResponse:
    response = submit(client, "/login", {"name": name, "password": password, "code": code})
    assert response.status_code == 303, text_of(response)
    return response


def log_in_guardian(client: FlaskClient, document: str, password: str) -> TestResponse:
    response = submit(client, "/guardian/login", {"document": document, "password": password})
    assert response.status_code == 303, text_of(response)
    return response


def enrol(tutela: Tutela, *guardian_specs: str, family_name: str = "Rusu") -> ChildView:
    """A child enrolled by the world's registrar, with these guardians."""
    return children.enrol_child(
        tutela,
        given_name="Ana",
        family_name=family_name,
        birth_date="2017-03-02",
        birth_place="Bălți",
        guardian_specs=list(guardian_specs),
        acting_as="registrar",
    )


def request_exit(
    tutela: Tutela,
    card: str,
    companion_name: str = "Vasile Lupu",
    companion_document: str = "MD-5555-0001",
) -> int:
    """The world's border officer asks for the child's exit; returns the request number."""
    return crossings.request_crossing(
        tutela,
        card,
        direction="exit",
        border_point="MD-LEUSENI",
        companion_name=companion_name,
        companion_document=companion_document,
        acting_as="officer",
    ).request
