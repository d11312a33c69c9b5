"""The portal's frame: logins, logout, headers, languages, error pages."""

from __future__ import annotations

import pytest

from ledger_client.errors import InputError
from ledger_client.services import accounts
from tests.portal.conftest import Portal
from tests.portal.support import log_in_staff, submit, text_of


def test_a_staff_member_logs_in_and_out_and_the_old_cookie_is_worthless(portal: Portal) -> None:
    client = portal.staff_client("border-officer")
    assert client.get("/border/").status_code == 200
    stolen = client.get_cookie("tutela")
    assert stolen is not None
    submit(client, "/logout", {}, form_page="/border/")
    assert client.get("/border/").status_code == 302
    thief = portal.client()
    thief.set_cookie("tutela", stolen.value)
    assert thief.get("/border/").status_code == 302


def test_every_page_has_the_security_headers(portal: Portal) -> None:
    response = portal.client().get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = portal.staff_client("registrar").get_cookie("tutela")
    assert cookie is not None
    assert cookie.secure
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_a_wrong_password_is_refused_without_saying_which_part(portal: Portal) -> None:
    client = portal.client()
    response = submit(client, "/login", {"name": "officer", "password": "x" * 20, "code": ""})
    assert response.status_code == 400
    assert "wrong" in text_of(response)
    unknown = submit(client, "/login", {"name": "nobody", "password": "x" * 20, "code": ""})
    assert text_of(unknown).count("wrong") == text_of(response).count("wrong")


def test_logins_are_throttled_per_account_and_others_still_log_in(portal: Portal) -> None:
    attacker = portal.client()
    for _ in range(5):
        submit(attacker, "/login", {"name": "officer", "password": "y" * 20, "code": ""})
    locked = submit(
        portal.client(),
        "/login",
        {"name": "officer", "password": "officer-password-long", "code": ""},
    )
    assert locked.status_code == 400
    assert "Too many attempts" in text_of(locked)
    portal.staff_client("registrar")  # another account is unaffected


def test_a_post_without_csrf_token_changes_nothing(portal: Portal) -> None:
    client = portal.staff_client("border-officer")
    response = client.post("/logout")
    assert response.status_code == 400
    assert client.get("/border/").status_code == 200


def test_pages_follow_the_language_switch_and_the_browser(portal: Portal) -> None:
    client = portal.client()
    page = client.get("/login", headers={"Accept-Language": "ru"})
    assert '<html lang="ru">' in page.get_data(as_text=True)
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)
    switched = submit(client, "/language", {"language": "ro", "next": "/login"}, form_page="/login")
    assert switched.status_code == 303
    assert switched.headers["Location"] == "/login"
    page = client.get("/login", headers={"Accept-Language": "ru"})
    assert '<html lang="ro">' in page.get_data(as_text=True)


def test_errors_show_a_page_and_no_stack_trace(portal: Portal) -> None:
    client = portal.client()
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "Traceback" not in missing.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200


def test_a_short_password_needs_a_second_factor_and_the_login_asks_for_its_code(
    portal: Portal,
) -> None:
    tutela = portal.tutela
    with pytest.raises(InputError, match="at least 15"):
        accounts.set_staff_password(tutela, "officer", "short-pw1", totp=False)
    login = accounts.set_staff_password(tutela, "officer", "short-pw1", totp=True)
    assert login.totp_uri is not None
    assert login.totp_uri.startswith("otpauth://totp/")
    without_code = submit(
        portal.client(), "/login", {"name": "officer", "password": "short-pw1", "code": ""}
    )
    assert without_code.status_code == 400
    wrong_code = submit(
        portal.client(), "/login", {"name": "officer", "password": "short-pw1", "code": "000000"}
    )
    assert wrong_code.status_code == 400
    client = portal.client()
    code = accounts.staff_totp_now(tutela, "officer")
    log_in_staff(client, "officer", "short-pw1", code)
    assert client.get("/border/").status_code == 200


def test_a_new_password_ends_the_members_sessions(portal: Portal) -> None:
    client = portal.staff_client("registrar")
    assert client.get("/registry/").status_code == 200
    accounts.set_staff_password(portal.tutela, "registrar", "another-long-password", totp=False)
    assert client.get("/registry/").status_code == 302
