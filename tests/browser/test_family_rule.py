"""The family rule in Chromium: a guardian who travels with the child cannot approve alone.

The border officer asks for Maria, who travels with her father Ion, one of her guardians.
Ion approves on his phone: the request stays pending and his page says another approval is
needed. The child-protection officer finds it on the desk's queue and co-approves with the
password; the officer's page, left open, turns to approved by itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.desks import (
    PHONE,
    DemoLogins,
    PageChecks,
    log_in_guardian,
    log_in_staff,
)
from tests.browser.support import Portal

# The demo's Maria Popescu and her father, an activated guardian.
CHILD = "Maria"
FATHER = {"name": "Ion Popescu", "document": "MD-0912-3345"}
FOLLOW_TIMEOUT_MS = 15_000


def test_a_guardian_travelling_with_the_child_needs_a_co_approval(
    new_page: Callable[..., Page], portal: Portal, demo: DemoLogins, check_page: PageChecks
) -> None:
    father = demo.guardian(FATHER["document"])
    assert father.password is not None
    assert father.pin is not None

    # The officer asks, and names the father as the companion.
    officer = new_page()
    log_in_staff(officer, portal, demo.member("border-officer"))
    officer.get_by_label("Scan the card or type its number").fill(demo.card(CHILD))
    officer.get_by_role("button", name="Check the card").click()
    expect(officer.locator(".child-name")).to_have_text("Maria Popescu")
    officer.get_by_label("Your border point").select_option("MD-SCULENI")
    officer.get_by_label("Companion's full name").fill(FATHER["name"])
    officer.get_by_label("Companion's identity document number").fill(FATHER["document"])
    officer.get_by_role("button", name="Send the request").click()
    expect(officer).to_have_url(re.compile(r"/border/requests/\d+$"))
    request_id = officer.url.rsplit("/", 1)[1]
    status = officer.locator("#status-words")
    expect(status).to_have_text("Waiting for the guardians")
    expect(officer.get_by_role("heading", name="Family rule")).to_be_visible()
    check_page(officer, "border-request-family-rule")

    # The father approves on his phone: his approval does not count alone.
    phone = new_page(**PHONE)
    log_in_guardian(phone, portal, father.document, father.password)
    request_card = phone.locator("li.request-card").filter(
        has=phone.get_by_role("link", name=f"Decide on request {request_id}")
    )
    expect(request_card).to_contain_text("a guardian of the child")
    expect(request_card).to_contain_text("your approval alone is not enough")
    check_page(phone, "guardian-inbox")
    request_card.get_by_role("link", name=f"Decide on request {request_id}").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text(f"Request {request_id}")
    phone.get_by_label("Your PIN").fill(father.pin)
    check_page(phone, "guardian-request")
    phone.get_by_role("button", name="Approve").click()
    expect(phone.get_by_role("status").first).to_have_text(
        re.compile(r"^You approved\. Because you travel with the child, another guardian or a")
    )
    expect(phone.locator(".status-line")).to_contain_text("Waiting for a decision")
    expect(phone.get_by_text("You approved this request.")).to_be_visible()
    check_page(phone, "guardian-request-held")
    # The officer's page, asking again after the approval, still waits. Asked here with the
    # officer's own session rather than caught from the page's poll: the page may reload
    # itself meanwhile (when a message to a guardian changes state), taking the body with it.
    answer = officer.context.request.get(officer.url + "/status.json")
    assert answer.json()["status"] == "pending"
    expect(status).to_have_text("Waiting for the guardians")

    # The child-protection officer co-approves from the desk's queue.
    protector = new_page()
    log_in_staff(protector, portal, demo.member("child-protection"))
    expect(protector).to_have_url(re.compile(r"/protection/$"))
    held = protector.get_by_role("link", name=f"Request {request_id}: Maria Popescu")
    expect(held).to_be_visible()
    check_page(protector, "protection-home")
    held.click()
    expect(protector.get_by_text("The family rule holds this request")).to_be_visible()
    expect(protector.locator("ul.decisions")).to_contain_text(
        "Ion Popescu approved, but travels with the child"
    )
    protector.get_by_label("Your password", exact=True).fill(
        demo.member("child-protection").password
    )
    check_page(protector, "protection-request")
    protector.get_by_role("button", name="Co-approve").click()
    expect(protector.get_by_role("status").first).to_have_text(
        f"You co-approved request {request_id}. Its status is now: Approved."
    )
    expect(protector.get_by_role("button", name="Co-approve")).to_have_count(0)
    check_page(protector, "protection-request-co-approved")

    # The officer's page turns to approved by itself; the request leaves the queue.
    expect(status).to_have_text("Approved: the child may cross", timeout=FOLLOW_TIMEOUT_MS)
    expect(officer.get_by_role("button", name="Crossed", exact=True)).to_be_visible()
    check_page(officer, "border-request-approved")
    protector.get_by_role("link", name="Back to the held requests").click()
    expect(
        protector.get_by_role("link", name=f"Request {request_id}: Maria Popescu")
    ).to_have_count(0)
    check_page.assert_clean()
