"""Every desk page, in English, Romanian and Russian: axe-core, ``<html lang>``, a screenshot.

The language comes from the browser (a context ``locale``, hence ``Accept-Language``), and
one test switches it with the portal's own buttons. Nothing here reads translated text:
the translations are still being written, and these checks must hold whatever they say.
Forms are found by field ids and button types, pages by their addresses.

The pages need a few requests to show, made once for the module on the demo's Andrei
(whose only guardian, Tatiana, is activated): one the family rule holds (Tatiana travels
with him and approved), one waiting for her decision. The investigator's pages look at
Andrei too, and at the demo population's crossings and flags.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.desks import (
    PHONE,
    DemoLogins,
    PageChecks,
    log_in_guardian,
    log_in_staff,
    search_crossings,
)
from tests.browser.support import ACTION_TIMEOUT_MS, Portal, Screenshots

CHILD = "Andrei"
TATIANA = {"name": "Tatiana Ceban", "document": "MD-0455-2201"}
STRANGER = {"name": "Sergiu Balan", "document": "MD-7001-4420"}
CASE = "PN-2026-0099-A11Y"
REASON = "Checking the pages of the workbench in every language."
LANGUAGES = [
    pytest.param("en-GB", "en", id="en"),
    pytest.param("ro-RO", "ro", id="ro"),
    pytest.param("ru-RU", "ru", id="ru"),
]


@dataclass(frozen=True)
class Scene:
    """What the pages show: Andrei's card and two requests about him."""

    card: str
    held: str
    waiting: str


@pytest.fixture(scope="module")
def scene(browser: Browser, portal: Portal, demo: DemoLogins) -> Iterator[Scene]:
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    card = demo.card(CHILD)
    tatiana = demo.guardian(TATIANA["document"])
    assert tatiana.password is not None
    assert tatiana.pin is not None
    officer = context.new_page()
    log_in_staff(officer, portal, demo.member("border-officer"))
    held = _ask(officer, portal, card, TATIANA)
    waiting = _ask(officer, portal, card, STRANGER)
    guardian = browser.new_context(locale="en-GB", **PHONE)
    guardian.set_default_timeout(ACTION_TIMEOUT_MS)
    phone = guardian.new_page()
    log_in_guardian(phone, portal, tatiana.document, tatiana.password)
    phone.goto(f"{portal.url}/guardian/requests/{held}")
    phone.locator("#pin").fill(tatiana.pin)
    phone.locator("button[value=approve]").click()
    expect(phone.locator(".my-decision")).to_be_visible()
    yield Scene(card=card, held=held, waiting=waiting)
    guardian.close()
    context.close()


def _ask(officer: Page, portal: Portal, card: str, companion: dict[str, str]) -> str:
    """Send an exit request for ``card`` from the border desk; return its number."""
    officer.goto(f"{portal.url}/border/children/{card}")
    officer.locator("#companion_name").fill(companion["name"])
    officer.locator("#companion_document").fill(companion["document"])
    officer.locator("main form button[type=submit]").click()
    expect(officer).to_have_url(re.compile(r"/border/requests/\d+$"))
    return officer.url.rsplit("/", 1)[1]


@pytest.mark.parametrize(("locale", "language"), LANGUAGES)
def test_every_desk_page_is_accessible_in_each_language(
    new_page: Callable[..., Page],
    portal: Portal,
    demo: DemoLogins,
    scene: Scene,
    screenshot: Screenshots,
    language: str,
) -> None:
    check = PageChecks(screenshot, language=language)
    url = portal.url

    visitor = new_page()
    check.open(visitor, f"{url}/", "start")
    check.open(visitor, f"{url}/login", "staff-login")
    visitor.locator("main form button[type=submit]").click()
    check(visitor, "staff-login-refused")
    check.open(visitor, f"{url}/no-such-page", "error-404", status=404)
    # Guardians come on a phone.
    newcomer = new_page(**PHONE)
    check.open(newcomer, f"{url}/guardian/login", "guardian-login")
    check.open(newcomer, f"{url}/guardian/activate", "guardian-activate")
    newcomer.locator("main form button[type=submit]").click()
    check(newcomer, "guardian-activate-refused")

    registrar = new_page()
    log_in_staff(registrar, portal, demo.member("registrar"))
    child = f"{url}/registry/children/{scene.card}"
    check.open(registrar, f"{url}/registry/", "registry-home")
    check.open(registrar, f"{url}/registry/?card=0000-0000-00", "registry-home-unknown", status=404)
    check.open(registrar, f"{url}/registry/enrol", "registry-enrol")
    registrar.locator("main form button[type=submit]").click()
    check(registrar, "registry-enrol-refused")
    check.open(registrar, child, "registry-child")
    guardian_actions = [
        registrar.locator(f"main a[href*='/{action}']").first.get_attribute("href")
        for action in ("reverify", "remove")
    ]
    check.open(registrar, f"{child}/card", "registry-card")
    check.open(registrar, f"{child}/photo", "registry-photo")
    check.open(registrar, f"{child}/guardians/add", "registry-add-guardian")
    for href, name in zip(guardian_actions, ("reverify", "remove-guardian"), strict=True):
        assert href is not None
        check.open(registrar, url + href, f"registry-{name}")
    check.open(registrar, f"{child}/correct", "registry-correct")
    check.open(registrar, f"{child}/revoke", "registry-revoke")

    officer = new_page()
    log_in_staff(officer, portal, demo.member("border-officer"))
    check.open(officer, f"{url}/border/", "border-home")
    officer.locator("#card").fill("0000-0000-00")
    officer.locator("main form button[type=submit]").click()
    check(officer, "border-home-unknown-card")
    check.open(officer, f"{url}/border/children/{scene.card}", "border-child")
    check.open(officer, f"{url}/border/requests/{scene.waiting}", "border-request-waiting")
    check.open(officer, f"{url}/border/requests/{scene.held}", "border-request-held")

    protector = new_page()
    log_in_staff(protector, portal, demo.member("child-protection"))
    check.open(protector, f"{url}/protection/", "protection-home")
    expect(protector.locator(f"a[href$='/protection/requests/{scene.held}']")).to_be_visible()
    check.open(protector, f"{url}/protection/requests/{scene.held}", "protection-request")

    tatiana = demo.guardian(TATIANA["document"])
    assert tatiana.password is not None
    phone = new_page(**PHONE)
    log_in_guardian(phone, portal, tatiana.document, tatiana.password)
    check.open(phone, f"{url}/guardian/", "guardian-inbox")
    check.open(phone, f"{url}/guardian/requests/{scene.waiting}", "guardian-request-waiting")
    check.open(phone, f"{url}/guardian/requests/{scene.held}", "guardian-request-held")
    check.open(phone, f"{url}/guardian/children", "guardian-children")
    check.open(phone, f"{url}/guardian/children/{scene.card}/history", "guardian-history")

    # The investigator's and the auditor's desks on a phone's width, where a table or a
    # hash widens a page first (a page that fits there fits a desk's screen).
    investigator = new_page(**PHONE)
    log_in_staff(investigator, portal, demo.member("investigator"))
    check.open(investigator, f"{url}/investigate/", "investigate-home")
    investigator.locator("form.search button[type=submit]").click()
    check(investigator, "investigate-search-refused")
    timeline = f"{url}/investigate/children/{scene.card}/timeline"
    check.open(investigator, timeline, "investigate-case")
    search_crossings(investigator, portal, CASE, REASON, "LEUSENI")
    expect(investigator.locator("table.findings tbody tr").first).to_be_visible()
    check(investigator, "investigate-results")
    check.open(investigator, timeline, "investigate-timeline")
    investigator.locator("form.check button").first.click()
    expect(investigator.locator(".check-result")).to_be_visible()
    check(investigator, "investigate-timeline-checked")
    investigator.locator("form[action$='/investigate/report'] button").click()
    expect(investigator.locator("article.report")).to_be_visible()
    check(investigator, "investigate-report")
    check.open(investigator, f"{url}/investigate/links", "investigate-links-form")
    check.open(investigator, f"{url}/investigate/links?card={scene.card}", "investigate-links")
    check.open(investigator, f"{url}/investigate/flags", "investigate-flags")
    flag = investigator.locator("ul.flags li.flag-item h2 a").first.get_attribute("href")
    assert flag is not None, "the demo population has open flags"
    check.open(investigator, url + flag, "investigate-flag")

    auditor = new_page(**PHONE)
    log_in_staff(auditor, portal, demo.member("auditor"))
    check.open(auditor, f"{url}/audit/", "audit-home")
    check.open(auditor, f"{url}/audit/?case={CASE}", "audit-filtered")
    check.assert_clean()


def test_the_language_buttons_switch_the_page_language(page: Page, portal: Portal) -> None:
    page.goto(f"{portal.url}/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Română").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    expect(page.get_by_role("button", name="Română")).to_have_attribute("aria-current", "true")
    # The choice is kept for the next page, over the browser's English.
    page.goto(f"{portal.url}/guardian/login")
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    page.get_by_role("button", name="Русский").click()
    expect(page).to_have_url(re.compile(r"/guardian/login$"))
    expect(page.locator("html")).to_have_attribute("lang", "ru")
