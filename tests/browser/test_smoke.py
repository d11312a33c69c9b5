"""The browser-test kit works: Chromium opens a page under a strict CSP, screenshots are
written, axe-core passes a good page and catches a bad one, mail is received.

No portal here: a small static site served from a thread.
"""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page

from tests.browser.support import SCREENSHOTS, Screenshots, SmtpListener, axe_check

CSP = "default-src 'self'"
PAGES = {
    "/": """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Card check</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="/app.js"></script></head>
<body>
<header><p>Tutela</p></header>
<main>
  <h1>Card check</h1>
  <form method="get" action="/">
    <label for="card">Card number</label>
    <input id="card" name="card" inputmode="numeric" autocomplete="off">
    <button type="submit">Check</button>
  </form>
  <img src="/logo.svg" alt="Registry seal" width="40" height="40">
</main>
<script>document.documentElement.dataset.inline = "ran";</script>
</body>
</html>""",
    # Two critical violations axe must report: an image without a text alternative and a
    # field without a label.
    "/bad": """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Bad page</title></head>
<body><main><h1>Bad page</h1>
  <img src="/logo.svg">
  <input type="text" name="card">
</main></body>
</html>""",
    "/app.js": 'document.documentElement.dataset.script = "ran";',
    "/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    '<circle cx="20" cy="20" r="18" fill="#1a5"/></svg>',
}
TYPES = {".js": "text/javascript", ".svg": "image/svg+xml"}


class _Site(BaseHTTPRequestHandler):
    languages: list[str]

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        body = PAGES.get(path)
        if body is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self.languages.append(self.headers.get("Accept-Language", ""))
        suffix = path[path.rfind(".") :] if "." in path else ""
        data = body.encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", TYPES.get(suffix, "text/html; charset=utf-8"))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class StaticSite:
    def __init__(self, server: ThreadingHTTPServer, languages: list[str]) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.languages = languages


@pytest.fixture
def site() -> Iterator[StaticSite]:
    languages: list[str] = []
    handler = type("Site", (_Site,), {"languages": languages})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield StaticSite(server, languages)
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_page_opens_under_a_strict_csp_and_passes_axe(
    page: Page, site: StaticSite, screenshot: Screenshots
) -> None:
    page.goto(site.url + "/")
    assert page.title() == "Card check"
    # The CSP is in force: the same-origin script ran, the inline one was blocked...
    assert page.evaluate("document.documentElement.dataset.script") == "ran"
    assert page.evaluate("document.documentElement.dataset.inline") is None
    page.get_by_label("Card number").fill("1234-5678-94")
    shot = screenshot(page, "card check")
    folder = SCREENSHOTS / "test_smoke.test_a_page_opens_under_a_strict_csp_and_passes_axe"
    assert shot == folder / "01-card-check.png"
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # ...and axe-core runs all the same.
    axe_check(page)
    assert screenshot(page, "after axe").name == "02-after-axe.png"


def test_axe_check_catches_an_inaccessible_page(
    page: Page, site: StaticSite, capsys: pytest.CaptureFixture[str]
) -> None:
    page.goto(site.url + "/bad")
    with pytest.raises(AssertionError, match="serious or critical") as failed:
        axe_check(page)
    report = str(failed.value)
    assert "image-alt" in report
    assert "label" in report
    assert '["img"]' in report  # the target nodes are named
    assert '["input"]' in report
    assert "image-alt" in capsys.readouterr().out


@pytest.mark.parametrize("locale", ["ro-RO"])
def test_the_page_fixture_speaks_the_locale(page: Page, site: StaticSite, locale: str) -> None:
    page.goto(site.url + "/")
    assert page.evaluate("navigator.language") == "ro-RO"
    assert site.languages[0].startswith("ro-RO")


def test_new_page_opens_a_separate_context(new_page: Callable[..., Page], site: StaticSite) -> None:
    first, second = new_page(), new_page(locale="ru-RU", viewport={"width": 360, "height": 640})
    first.goto(site.url + "/")
    second.goto(site.url + "/")
    assert first.context is not second.context
    assert second.evaluate("[navigator.language, window.innerWidth]") == ["ru-RU", 360]


def test_the_smtp_listener_receives_mail(smtp_listener: SmtpListener) -> None:
    message = EmailMessage()
    message["From"] = "registry@tutela.test"
    message["To"] = "guardian@tutela.test"
    message["Subject"] = "Cerere de trecere a frontierei"
    message.set_content("Aprobați sau refuzați în portal.")
    with smtplib.SMTP(smtp_listener.host, smtp_listener.port, timeout=10) as client:
        client.send_message(message)
    received = smtp_listener.wait_for(lambda m: m["To"] == "guardian@tutela.test", timeout=5)
    assert received["Subject"] == "Cerere de trecere a frontierei"
    assert received.get_content().strip() == "Aprobați sau refuzați în portal."
    with pytest.raises(AssertionError, match="no matching mail"):
        smtp_listener.wait_for(lambda m: m["To"] == "nobody@tutela.test", timeout=0.2)
