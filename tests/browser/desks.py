"""Helpers that use the portal's desks the way their people do, in Chromium.

- ``DemoLogins``: the people ``tutela serve --demo`` made, read from ``demo-logins.json``.
- ``log_in_staff`` / ``log_in_guardian``: the login forms, filled and sent.
- ``search_crossings``: the investigator's search by border point, under a case.
- ``PageChecks``: a screenshot and axe-core on every page a test passes through; the
  problems found are kept, so one run reports every page's, and ``assert_clean`` fails the
  test with all of them at the end.
- ``small_jpeg``: a child's photo for the enrolment form.

The login helpers find the fields by their ids, not their labels, so that they work in
every language while the translations change.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Final

from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from tests.browser.support import (
    BLOCKING_IMPACTS,
    Portal,
    Screenshots,
    axe_violations,
    describe_violations,
)

DEMO_LOGINS_FILE: Final = "demo-logins.json"
# The name of a test's ``record_property`` for a figure the run lists at its end.
MEASURED: Final = "measured"
# What a phone's browser looks like to the portal: a small, touch screen.
PHONE: Final[dict[str, Any]] = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
}
# Template syntax or a gettext placeholder left in what a user reads.
_RAW_TEMPLATE_TEXT: Final = re.compile(r"\{\{|\}\}|\{%|%\}|%\([a-z_]+\)s")
_REQUEST_LINK: Final = re.compile(r"https?://\S+/guardian/requests/(\d+)")


@dataclass(frozen=True)
class StaffLogin:
    role: str
    name: str
    password: str


@dataclass(frozen=True)
class GuardianLogin:
    """A demo guardian: activated (password and PIN), or left to activate with a code."""

    name: str
    document: str
    password: str | None = None
    pin: str | None = None
    activation_code: str | None = None


@dataclass(frozen=True)
class DemoLogins:
    staff: tuple[StaffLogin, ...]
    guardians: tuple[GuardianLogin, ...]
    cards: dict[str, str]

    @classmethod
    def of(cls, portal: Portal) -> DemoLogins:
        """The logins the demo wrote into the portal's data folder."""
        raw = json.loads((portal.data_dir / DEMO_LOGINS_FILE).read_text(encoding="utf-8"))
        return cls(
            staff=tuple(StaffLogin(**member) for member in raw["staff"]),
            guardians=tuple(GuardianLogin(**guardian) for guardian in raw["guardians"]),
            cards={child["name"]: child["card"] for child in raw["children"]},
        )

    def member(self, role: str) -> StaffLogin:
        """The demo's staff member of ``role`` ("registrar", "border-officer"...)."""
        return next(member for member in self.staff if member.role == role)

    def guardian(self, document: str) -> GuardianLogin:
        return next(g for g in self.guardians if _same_document(g.document, document))

    def card(self, child_name: str) -> str:
        return self.cards[child_name]


def _same_document(first: str, second: str) -> bool:
    return first.replace("-", "").upper() == second.replace("-", "").upper()


def log_in_staff(page: Page, portal: Portal, member: StaffLogin) -> None:
    """Log in at /login as ``member``; the page is then on that role's desk."""
    page.goto(portal.url + "/login")
    fill_staff_login(page, member)


def fill_staff_login(page: Page, member: StaffLogin) -> None:
    """Fill and send the staff login form the page shows (after a redirect to it, say)."""
    page.locator("#name").fill(member.name)
    page.locator("#password").fill(member.password)
    page.locator("main form button[type=submit]").click()
    _left_the_login(page)


def log_in_guardian(page: Page, portal: Portal, document: str, password: str) -> None:
    """Log in at /guardian/login; the page is then on the guardian's inbox."""
    page.goto(portal.url + "/guardian/login")
    fill_guardian_login(page, document, password)


def fill_guardian_login(page: Page, document: str, password: str) -> None:
    page.locator("#document").fill(document)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    _left_the_login(page)


def search_crossings(
    page: Page, portal: Portal, case_number: str, reason: str, border_point: str
) -> None:
    """On the investigator's workbench, search by border point under a case; the page is
    then on the results (a POST: the reason must not travel in a URL)."""
    page.goto(portal.url + "/investigate/")
    page.locator("#case_number").fill(case_number)
    page.locator("#reason").fill(reason)
    page.locator("#border_point").fill(border_point)
    page.locator("form.search button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/investigate/search$"))


def _left_the_login(page: Page) -> None:
    # A refused login stays on the form and says why: show that rather than a timeout.
    expect(page, "the login was refused").not_to_have_url(re.compile(r"/login(\?|$)"))


def request_link(message: EmailMessage) -> str | None:
    """The link to ``/guardian/requests/<n>`` in a mail's plain text, if it has one."""
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        return None
    found = _REQUEST_LINK.search(str(body.get_content()))
    return found.group(0) if found else None


def small_jpeg(path: Path) -> Path:
    """A 240x320 JPEG of a drawn face, as a phone camera would give a registry office."""
    image = Image.new("RGB", (240, 320), (214, 228, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((60, 60, 180, 200), fill=(236, 200, 170))
    draw.ellipse((90, 110, 105, 125), fill=(40, 40, 40))
    draw.ellipse((135, 110, 150, 125), fill=(40, 40, 40))
    draw.arc((95, 140, 145, 175), start=20, end=160, fill=(150, 60, 60), width=4)
    draw.rectangle((50, 210, 190, 320), fill=(60, 90, 150))
    image.save(path, format="JPEG", quality=85)
    return path


@dataclass
class PageChecks:
    """A screenshot and the same checks on every page a test passes through.

    The checks: no serious or critical axe-core violation; nothing wider than the window
    (on a phone, a cut-off button); no template syntax or placeholder left in the text;
    and, when ``language`` is set, ``<html lang>`` equal to it. A problem is printed and
    kept, and the test goes on, so that one run lists every page's problems.

    Attributes:
        screenshot: The test's numbered screenshots.
        language: The language every page must declare, or None not to check it.
        problems: What was found so far, one entry per page and check.
    """

    screenshot: Screenshots
    language: str | None = None
    problems: list[str] = field(default_factory=list)

    def __call__(self, page: Page, name: str) -> Path:
        """Photograph ``page`` as ``name`` and check it; return the screenshot's path."""
        shot = self.screenshot(page, name)
        where = f"{name} ({page.url})"
        violations = axe_violations(page)
        if violations:
            print(f"axe-core on {where}:\n{describe_violations(violations)}")
        blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
        if blocking:
            self._found(f"{where}: axe-core:\n{describe_violations(blocking)}")
        overflow = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if overflow[0] > overflow[1]:
            self._found(f"{where}: the page is {overflow[0]} px wide in a {overflow[1]} px window")
        text = page.locator("body").inner_text()
        raw = _RAW_TEMPLATE_TEXT.search(text)
        if raw:
            self._found(f"{where}: raw template text {raw.group(0)!r} in the page")
        if self.language is not None:
            declared = page.locator("html").get_attribute("lang")
            if declared != self.language:
                self._found(f"{where}: <html lang={declared!r}>, expected {self.language!r}")
        return shot

    def open(self, page: Page, url: str, name: str, *, status: int = 200) -> Path:
        """Go to ``url``, check that it answers ``status``, then check the page as ``name``."""
        response = page.goto(url)
        answered = response.status if response is not None else None
        if answered != status:
            self._found(f"{name} ({url}): answered {answered}, expected {status}")
        return self(page, name)

    def _found(self, problem: str) -> None:
        print(problem)
        self.problems.append(problem)

    def assert_clean(self) -> None:
        """Fail with every problem found on the pages checked so far.

        Raises:
            AssertionError: At least one page had a problem; the message lists them all.
        """
        assert not self.problems, f"{len(self.problems)} problem(s) on the pages:\n" + "\n".join(
            self.problems
        )
