"""The whole story in Chromium: enrol, activate, ask, approve by phone, cross.

A registrar enrols a child with a photo and one new guardian; the guardian activates on a
phone with the code from the receipt; a border officer types the card number and asks, for
a companion who is not a guardian; the guardian follows the link in the e-mail and
approves with the PIN; the officer's page, left open, turns to approved by itself, and the
officer records the crossing. Every page on the way is photographed and checked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.desks import (
    MEASURED,
    PHONE,
    DemoLogins,
    PageChecks,
    fill_guardian_login,
    log_in_staff,
    request_link,
    small_jpeg,
)
from tests.browser.support import Portal

# The notifier delivers about every second; a loaded two-core machine gets some slack.
MAIL_TIMEOUT_S = 20
# border.js asks every second; the guardian's approval takes a block to confirm.
FOLLOW_TIMEOUT_MS = 15_000

GUARDIAN = {
    "name": "Vasile Moraru",
    "document": "MD-2301-7788",
    "email": "vasile.moraru@story.example.org",
    "phone": "+373 69 555 014",
}
PASSWORD = "river stone lamp orchard"
PIN = "482915"
COMPANION = {"name": "Pavel Rotari", "document": "MD-5512-0033"}


def test_a_child_is_enrolled_asked_for_approved_by_phone_and_crosses(
    new_page: Callable[..., Page],
    portal: Portal,
    demo: DemoLogins,
    check_page: PageChecks,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    # The registry office: enrol a child with a photo and one guardian.
    registrar = new_page()
    registrar.goto(portal.url + "/login")
    check_page(registrar, "staff-login")
    log_in_staff(registrar, portal, demo.member("registrar"))
    expect(registrar).to_have_url(re.compile(r"/registry/$"))
    check_page(registrar, "registry-home")
    registrar.get_by_role("link", name="Enrol a child").first.click()
    expect(registrar.get_by_role("heading", level=1)).to_have_text("Enrol a child")
    born = date.today().replace(year=date.today().year - 7, day=1)
    registrar.get_by_label("Given name(s)").fill("Irina")
    registrar.get_by_label("Family name").fill("Moraru")
    registrar.get_by_label("Birth date").fill(born.isoformat())
    registrar.get_by_label("Birth place (town or village)").fill("Orhei")
    registrar.get_by_label("Photo of the child").set_input_files(small_jpeg(tmp_path / "c.jpg"))
    first = registrar.get_by_role("group", name="Guardian 1")
    first.get_by_label("Full name").fill(GUARDIAN["name"])
    first.get_by_label("Identity document number").fill(GUARDIAN["document"])
    first.get_by_label("E-mail address").fill(GUARDIAN["email"])
    first.get_by_label("Mobile phone").fill(GUARDIAN["phone"])
    registrar.get_by_label("Who must approve a crossing").select_option("any")
    check_page(registrar, "registry-enrol-filled")
    registrar.get_by_role("button", name="Enrol the child").click()

    heading = registrar.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"Receipt: card \d{4}-\d{4}-\d{2}"))
    card = re.search(r"\d{4}-\d{4}-\d{2}", heading.inner_text())
    assert card is not None
    card_number = card.group(0)
    codes = registrar.locator("ul.codes li")
    expect(codes).to_have_count(1)
    expect(codes.first).to_contain_text(GUARDIAN["name"])
    code = codes.first.locator("dd.code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", code), code
    expect(registrar.get_by_role("img", name="Photo of the child")).to_be_visible()
    check_page(registrar, "registry-receipt")

    registrar.get_by_role("link", name="Print the ID card").click()
    expect(registrar.locator(".idcard-number")).to_have_text(card_number)
    qr = registrar.get_by_role("img", name="Signed QR code of the child's Tutela card")
    expect(qr).to_be_visible()
    check_page(registrar, "registry-print-card")

    # The guardian, on a phone, activates with the code from the receipt.
    guardian = new_page(**PHONE)
    guardian.goto(portal.url + "/guardian/activate")
    guardian.get_by_label("Identity document number").fill(GUARDIAN["document"])
    guardian.get_by_label("Activation code").fill(code)
    guardian.get_by_label("New password", exact=True).fill(PASSWORD)
    guardian.get_by_label("New password again").fill(PASSWORD)
    guardian.get_by_label("New PIN (6 digits)").fill(PIN)
    guardian.get_by_label("New PIN again").fill(PIN)
    check_page(guardian, "guardian-activate-filled")
    guardian.get_by_role("button", name="Activate").click()
    expect(guardian).to_have_url(re.compile(r"/guardian/$"))
    expect(guardian.get_by_role("status").first).to_contain_text("Your account is active")
    check_page(guardian, "guardian-inbox-empty")

    # The border officer types the card number into the field that has the focus.
    officer = new_page()
    log_in_staff(officer, portal, demo.member("border-officer"))
    expect(officer).to_have_url(re.compile(r"/border/$"))
    expect(officer.get_by_label("Scan the card or type its number")).to_be_focused()
    check_page(officer, "border-home")
    officer.keyboard.type(card_number.replace("-", ""))
    officer.keyboard.press("Enter")
    expect(officer.locator(".child-name")).to_have_text("Irina Moraru")
    expect(officer.get_by_role("img", name="Photo of the child")).to_be_visible()
    officer.get_by_label("Leaving the country (exit)").check()
    officer.get_by_label("Your border point").select_option("MD-LEUSENI")
    officer.get_by_label("Companion's full name").fill(COMPANION["name"])
    officer.get_by_label("Companion's identity document number").fill(COMPANION["document"])
    check_page(officer, "border-child-filled")
    officer.get_by_role("button", name="Send the request").click()
    expect(officer).to_have_url(re.compile(r"/border/requests/\d+$"))
    request_id = officer.url.rsplit("/", 1)[1]
    status = officer.locator("#status-words")
    expect(status).to_have_text("Waiting for the guardians")
    expect(officer.get_by_text("Family rule")).to_have_count(0)
    check_page(officer, "border-request-pending")

    # The e-mail reaches the guardian with a link to the request.
    mail = portal.mail.wait_for(
        lambda m: GUARDIAN["email"] in str(m["To"]) and request_link(m) is not None,
        timeout=MAIL_TIMEOUT_S,
    )
    link = request_link(mail)
    assert link is not None
    assert link.endswith(f"/guardian/requests/{request_id}")
    guardian.goto(link)
    if "/guardian/login" in guardian.url:
        fill_guardian_login(guardian, GUARDIAN["document"], PASSWORD)
    expect(guardian.get_by_role("heading", level=1)).to_have_text(f"Request {request_id}")
    expect(guardian.locator("dl.facts")).to_contain_text("Irina Moraru")
    expect(guardian.locator("dl.facts")).to_contain_text(COMPANION["name"])
    guardian.get_by_label("Your PIN").fill(PIN)
    check_page(guardian, "guardian-request-pin-typed")

    # The officer's page, left open, follows the approval by itself.
    clicked = time.monotonic()
    guardian.get_by_role("button", name="Approve").click()
    expect(status).to_have_text("Approved: the child may cross", timeout=FOLLOW_TIMEOUT_MS)
    followed = time.monotonic() - clicked
    record_property(
        MEASURED,
        f"the officer's page showed the approval {followed:.2f} s after the guardian's click",
    )
    expect(guardian.get_by_role("status").first).to_have_text(
        "You approved. The border officer sees it now."
    )
    expect(guardian.locator(".status-line")).to_contain_text("Approved")
    check_page(guardian, "guardian-request-approved")
    check_page(officer, "border-request-approved")

    officer.get_by_role("button", name="Crossed", exact=True).click()
    expect(officer.get_by_role("status").first).to_have_text("Recorded: the child crossed.")
    expect(status).to_have_text("Crossed: recorded")
    expect(officer.get_by_text("This request is closed.")).to_be_visible()
    check_page(officer, "border-request-crossed")

    # The guardian sees the crossing in the child's history.
    guardian.get_by_role("link", name="My children").click()
    check_page(guardian, "guardian-children")
    guardian.get_by_role("link", name="Crossings of Irina").click()
    entry = guardian.locator("ul.requests > li")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Crossed the border")
    expect(entry).to_contain_text("You approved.")
    check_page(guardian, "guardian-history")
    check_page.assert_clean()
