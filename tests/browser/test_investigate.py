"""An investigator's day in Chromium, then the auditor who reads what they did.

The investigator searches the crossings at a border point under a case number and a
reason, exports them, opens a child's timeline and checks one fact on the ledger, follows
the links picture from the child to an adult, reads the open risk flags of the demo's small
population (one planted of each of the seven patterns) and reviews one with a note and the
password. The auditor then finds that search in the audit log with its case and reason.
Every page on the way is photographed and checked.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.desks import DemoLogins, PageChecks, log_in_staff
from tests.browser.support import Portal

CASE = "PN-2026-0412-BR"
REASON = "Crossings at Leuseni of the children named in the prosecutor's referral."
# The population's busiest road crossing (ledger_client/demo_population/people.py).
BORDER_POINT = "LEUSENI"
TX_HASH = re.compile(r"0x[0-9a-f]{64}")
# The seven risk indicators as the workbench names them (guardian_portal/investigate/words.py).
INDICATORS = (
    "An adult travelling with several children not theirs",
    "A child crossing unusually often",
    "Denied, then tried at another border point",
    "A guardian added shortly before an exit",
    "One adult registered as guardian of many children",
    "An exit with no return",
    "The family rule overridden or co-approved repeatedly",
)
REVIEWED = "An exit with no return"
NOTE = "Spoke to the mother: the child studies abroad and came home for the holidays."


def test_an_investigator_searches_traces_links_reviews_and_the_auditor_sees_it(
    new_page: Callable[..., Page],
    portal: Portal,
    demo: DemoLogins,
    check_page: PageChecks,
) -> None:
    investigator = demo.member("investigator")
    page = new_page()
    log_in_staff(page, portal, investigator)
    expect(page).to_have_url(re.compile(r"/investigate/$"))
    check_page(page, "workbench")

    # A search by border point, under a case and a reason.
    page.get_by_label("Case number").fill(CASE)
    page.get_by_label("Reason for this search").fill(REASON)
    page.get_by_label("Border point").fill(BORDER_POINT)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Search results")
    expect(page.locator(".case-line")).to_contain_text(f"Case {CASE}")
    rows = page.locator("table.findings tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() > 1, "the small population has many crossings at LEUSENI"
    expect(
        page.get_by_text(re.compile(rf"^{rows.count()} crossings, newest first\.$"))
    ).to_be_visible()
    shown_hashes = set()
    for row in rows.all():
        expect(row.locator("td").nth(4)).to_have_text(BORDER_POINT)
        full = row.locator("abbr.tx").get_attribute("title") or ""
        assert TX_HASH.fullmatch(full), f"no transaction hash on {row.inner_text()!r}"
        shown_hashes.add(full)
    check_page(page, "results")

    # The CSV holds the same crossings with their proofs.
    with page.expect_download() as download:
        page.get_by_role("button", name="Export as CSV").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    records = list(csv.DictReader(io.StringIO(exported)))
    assert {record["tx_hash"] for record in records} == shown_hashes
    assert {record["border_point"] for record in records} == {BORDER_POINT}

    # A child's timeline, and one fact checked on the ledger again.
    child_link = rows.first.locator("td").nth(2).get_by_role("link")
    child = child_link.inner_text().strip()
    child_link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Timeline: {child}")
    items = page.locator("ol.timeline > li.timeline-item")
    expect(items.first).to_be_visible()
    check_page(page, "timeline")
    timeline_url = page.url
    requested = page.locator("li.timeline-item.requested").first
    item_id = requested.get_attribute("id")
    checked_hash = requested.locator("input[name=tx_hash]").get_attribute("value") or ""
    block = requested.locator("input[name=block]").get_attribute("value")
    expect(requested.locator("code.tx")).to_have_text(TX_HASH)
    expect(requested.locator(".check-result")).to_have_count(0)
    requested.get_by_role("button", name="Check on the ledger").click()
    checked = page.locator(f"#{item_id} .check-result")
    expect(checked).to_have_text(f"Confirmed on the ledger in block {block}.")
    expect(checked).to_have_class(re.compile(r"\bconfirmed\b"))
    check_page(page, "timeline-checked")

    # The links around the child, then around an adult picked in the picture.
    page.get_by_role("link", name="Links around this child").click()
    picture = page.locator("svg.link-graph")
    expect(picture).to_have_attribute("aria-label", f"Links around {child}")
    expect(picture.locator("g.node.centre.child")).to_have_count(1)
    assert picture.locator("g.node").count() >= 2, "a child has at least one guardian"
    check_page(page, "links-child")
    adult = picture.locator("g.node.guardian, g.node.companion").filter(has=page.locator("a"))
    adult = adult.first
    adult_name = (adult.locator("title").text_content() or "").rsplit(" (", 1)[0]
    assert adult_name, "an adult node is named in its title"
    adult.locator("a").click()
    expect(page).to_have_url(re.compile(r"/investigate/links\?person=person:0x[0-9a-f]{64}$"))
    expect(picture).to_have_attribute("aria-label", f"Links around {adult_name}")
    expect(picture.locator("g.node.centre")).not_to_have_class(re.compile(r"\bchild\b"))
    expect(picture.locator("g.node.child > title", has_text=child)).to_have_count(1)
    check_page(page, "links-adult")

    # The open flags: one of each planted pattern, in words.
    page.get_by_role("link", name="Risk flags").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open risk flags")
    headings = page.locator("ul.flags li.flag-item h2")
    expect(headings.first).to_be_visible()
    listed = [text.strip() for text in headings.all_inner_texts()]
    for indicator in INDICATORS:
        assert indicator in listed, f"no open flag {indicator!r}; listed: {listed}"
    check_page(page, "flags")

    # One flag, reviewed with a note and the password.
    page.get_by_role("link", name=REVIEWED).first.click()
    expect(page).to_have_url(re.compile(r"/investigate/flags/\d+$"))
    flag_url = page.url
    flag_path = flag_url.removeprefix(portal.url)
    expect(page.get_by_role("heading", level=1)).to_contain_text(REVIEWED)
    expect(page.locator("dl.facts .flag-status")).to_have_text("Not reviewed")
    expect(page.get_by_text("Nobody has reviewed this flag yet.")).to_be_visible()
    page.get_by_label("Review note").fill(NOTE)
    page.get_by_label("Your password").fill(investigator.password)
    check_page(page, "flag-review-typed")
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page).to_have_url(flag_url)
    expect(page.get_by_role("status").first).to_contain_text("is marked reviewed")
    expect(page.locator("dl.facts .flag-status")).to_have_text("Reviewed")
    expect(page.locator("ul.notes .note-text")).to_have_text(NOTE)
    expect(page.locator("ul.notes")).to_contain_text(investigator.name)
    check_page(page, "flag-reviewed")
    page.get_by_role("link", name="Back to the open flags").click()
    expect(page.locator(f"ul.flags a[href='{flag_path}']")).to_have_count(0)
    page.get_by_role("link", name="All flags, reviewed ones too").click()
    reviewed = page.locator("ul.flags li.flag-item").filter(
        has=page.locator(f"a[href='{flag_path}']")
    )
    expect(reviewed.locator(".flag-status")).to_have_text("Reviewed")

    # The printable report of the child's timeline lists every proof in full.
    page.goto(timeline_url)
    page.get_by_role("button", name="Printable report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Findings of case {CASE}")
    expect(page.locator("dl.facts").first).to_contain_text(REASON)
    expect(page.locator("table.findings code.tx", has_text=checked_hash).first).to_be_visible()
    check_page(page, "report")

    # The auditor reads the search, with its case and its reason.
    auditor = new_page()
    log_in_staff(auditor, portal, demo.member("auditor"))
    expect(auditor).to_have_url(re.compile(r"/audit/$"))
    auditor.get_by_role("button", name="Verify every entry now").click()
    expect(auditor.locator(".chain-status").last).to_contain_text("Verified")
    check_page(auditor, "audit-verified")
    auditor.get_by_label("Case number").fill(CASE)
    auditor.get_by_role("button", name="Filter").click()
    entries = auditor.locator("li.audit-entry")
    # The search, and the CSV export's look-up again (an export is audited as a search).
    searches = entries.filter(has_text="investigate-search")
    expect(searches).to_have_count(2)
    for search in searches.all():
        expect(search).to_contain_text(CASE)
        expect(search).to_contain_text(REASON)
        expect(search).to_contain_text(investigator.name)
        expect(search).to_contain_text(BORDER_POINT)
    expect(entries.filter(has_text="investigate-check")).to_have_count(1)
    check_page(auditor, "audit-filtered")
    check_page.assert_clean()
