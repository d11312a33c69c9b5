"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, mail, the portal.

Every test in this folder is marked ``browser``: ``-m "not browser"`` leaves them out.
A missing Chromium fails them, naming scripts/setup.sh: CI must not pass with the browser
tests silently skipped.

- ``browser``: one headless Chromium for the whole run.
- ``page``: a new page in a fresh context (no cookies) per test; its language comes from
  the ``locale`` fixture, so ``@pytest.mark.parametrize("locale", ["ro-RO", "ru-RU"])``
  runs a test in each. ``new_page(locale=..., **context_options)`` opens more, for a second
  user or a phone's viewport.
- ``screenshot(page, name)``: ``test-artifacts/screenshots/<module>.<test>/<nn>-<name>.png``.
- ``axe_check(page)`` (from ``tests.browser.support``): fails on a serious or critical
  accessibility violation.
- ``check_page(page, name)``: a screenshot and axe-core (and more, see
  ``tests.browser.desks.PageChecks``) on every page of a test; problems are kept and
  ``check_page.assert_clean()`` fails the test with all of them.
- ``record_property(MEASURED, text)`` (``MEASURED`` from ``tests.browser.desks``): a
  figure a test measured, listed at the end of the run.
- ``smtp_listener``: a real SMTP server on loopback; ``wait_for(predicate, timeout)``.
- ``portal``: ``tutela serve --demo`` as a real process, one for the session, mailing to
  the session's ``portal_mail`` listener (also ``portal.mail``); ``demo``: its logins.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.desks import MEASURED, DemoLogins, PageChecks
from tests.browser.support import (
    ACTION_TIMEOUT_MS,
    CHROMIUM,
    CHROMIUM_ARGS,
    Portal,
    Screenshots,
    SmtpListener,
    missing_chromium_message,
    screenshot_folder,
    start_portal,
    tail,
)

HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives Debian's Chromium through Playwright (tests/browser)"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # The shared portal's complaints belong in the report of the test that met them.
    running = getattr(item, "funcargs", {}).get("portal")
    if report.failed and isinstance(running, Portal):
        report.sections.append(("portal stderr (end)", tail(running.stderr)))
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Lists what the tests measured (``record_property(MEASURED, text)``), pass or fail."""
    measured = [
        (report.nodeid, str(value))
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and report.when == "call"
        for name, value in report.user_properties
        if name == MEASURED
    ]
    if measured:
        terminalreporter.section("measured in the browser")
        for nodeid, text in measured:
            terminalreporter.write_line(f"{text}  ({nodeid})")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium; Playwright gives each launch a fresh, empty profile."""
    if not CHROMIUM.exists():
        pytest.fail(missing_chromium_message(), pytrace=False)
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
    )
    yield launched
    launched.close()


@pytest.fixture
def locale() -> str:
    """The browser's language (``Accept-Language`` and ``navigator.language``)."""
    return "en-GB"


@pytest.fixture
def new_page(browser: Browser, locale: str) -> Iterator[Callable[..., Page]]:
    """Open a page in a new context of its own; every context is closed after the test.

    Call it as ``new_page()``, ``new_page(locale="ro-RO")`` or with any other option of
    ``Browser.new_context`` (``viewport``, ``is_mobile``, ``timezone_id``...).
    """
    contexts: list[BrowserContext] = []

    def open_page(**options: Any) -> Page:
        options.setdefault("locale", locale)
        context = browser.new_context(**options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshots:
    """``screenshot(page, name)`` saves the next numbered screenshot of this test."""
    return Screenshots(screenshot_folder(request.path.stem, request.node.name))


@pytest.fixture
def smtp_listener() -> Iterator[SmtpListener]:
    listener = SmtpListener()
    listener.start()
    yield listener
    listener.stop()


@pytest.fixture
def check_page(screenshot: Screenshots, locale: str) -> PageChecks:
    """``check_page(page, name)``: a screenshot, axe-core and the other page checks of
    ``tests.browser.desks.PageChecks`` (``<html lang>`` is the ``locale``'s language);
    ``check_page.assert_clean()`` at the end."""
    return PageChecks(screenshot, language=locale.split("-")[0])


@pytest.fixture(scope="session")
def portal_mail() -> Iterator[SmtpListener]:
    """The SMTP listener of the shared portal: it keeps every mail of the session, so a
    test picks its own by recipient (each test mails people of its own)."""
    listener = SmtpListener()
    listener.start()
    yield listener
    listener.stop()


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory, portal_mail: SmtpListener) -> Iterator[Portal]:
    """One portal with demo data for the whole run, served by ``tutela serve`` on a free port.

    Shared, because seeding the demo takes 15-30 s on two cores: each test works on
    children and requests of its own, never on another test's. ``portal.url``,
    ``portal.data_dir``, ``portal.mail`` (the ``portal_mail`` listener), ``portal.stdout``.
    Its stdout and stderr are kept in ``<temp>/portal-logs`` for a failed test's report.
    """
    folder = tmp_path_factory.mktemp("portal")
    running = start_portal(folder / "data", portal_mail, folder / "portal-logs")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def demo(portal: Portal) -> DemoLogins:
    """The demo's staff, guardians and children's cards, from ``demo-logins.json``."""
    return DemoLogins.of(portal)
