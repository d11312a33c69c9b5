"""The auditor's page: the log newest first with its private parts opened, filters, and the
chain of entries with its anchors on the ledger."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update

from guardian_portal.audit_desk.words import audit_lines, audit_text
from ledger_client.services.audit import anchor_audit_head, audit_entries
from ledger_client.store.portal_models import AuditEntry
from tests.portal.conftest import Portal
from tests.portal.support import submit, text_of
from tests.portal.test_guardian_desk import STRANGER, enrol

CASE = {"case_number": "PN-2026/0099", "reason": "Mother reported the child missing at Otaci"}


@pytest.fixture
def searched(portal: Portal) -> str:
    """The investigator searched for a child's card under a case; returns the card."""
    child = enrol(portal.tutela, "Andrei", [STRANGER]).child
    desk = portal.staff_client("investigator")
    response = submit(
        desk, "/investigate/search", {**CASE, "card": child.card}, form_page="/investigate/"
    )
    assert response.status_code == 200
    return child.card


@pytest.fixture
def auditor(portal: Portal) -> FlaskClient:
    return portal.staff_client("auditor")


def entries_on(page_html: str) -> list[str]:
    # An entry's details hold lists of their own: an entry ends where the next one starts.
    return re.findall(
        r'<li class="card audit-entry">(.*?)</li>\s*(?=<li class="card audit-entry">|</ol>)',
        page_html,
        re.S,
    )


def test_the_auditor_lands_on_the_log_and_sees_the_search_with_its_reason(
    searched: str, auditor: FlaskClient, portal: Portal
) -> None:
    assert portal.staff_client("auditor").get("/").headers["Location"].endswith("/audit/")
    page = auditor.get("/audit/")
    assert page.status_code == 200
    [search] = [e for e in entries_on(page.get_data(as_text=True)) if "investigate-search" in e]
    text = " ".join(re.sub(r"<[^>]+>", " ", search).split())
    assert "staff:investigator" in text
    assert CASE["case_number"] in text
    assert "Sealed part, opened for you:" in text
    assert CASE["reason"] in text
    # Walking every entry grows with the log: the page offers it, and does it when asked.
    assert "Verified:" not in text_of(page)
    assert "Verify every entry now" in text_of(page)
    verified = submit(auditor, "/audit/verify", {}, form_page="/audit/")
    assert verified.status_code == 200
    assert "Verified:" in text_of(verified)
    assert "Verify every entry now" not in text_of(verified)


def test_an_entrys_details_read_as_key_value_lines(
    searched: str, auditor: FlaskClient, portal: Portal
) -> None:
    html = auditor.get("/audit/").get_data(as_text=True)
    [search] = [e for e in entries_on(html) if "investigate-search" in e]
    # The card the investigator searched for, opened from the sealed part; no Python braces.
    with portal.tutela.database.reading() as session:
        [entry] = [e for e in audit_entries(session) if e.action == "investigate-search"]
    assert entry.detail == {"case": CASE["case_number"], "criteria": ["card"]}
    assert "<dt>criteria</dt><dd>card</dd>" in search
    [shown] = re.findall(r"<li>card: ([\d-]+)</li>", search)
    assert re.sub(r"\D", "", shown) == re.sub(r"\D", "", searched)
    text = " ".join(re.sub(r"<[^>]+>", " ", search).split())
    for python in ("{", "}", "[", "]", "'"):
        assert python not in text


def test_the_entries_are_newest_first(searched: str, auditor: FlaskClient) -> None:
    html = auditor.get("/audit/").get_data(as_text=True)
    numbers = [int(n) for n in re.findall(r"entry (\d+)</p>", html)]
    assert len(numbers) >= 2
    assert numbers == sorted(numbers, reverse=True)


@pytest.mark.parametrize(
    ("query", "every_entry_has"),
    [
        (f"case={CASE['case_number']}", f"· {CASE['case_number']} ·"),
        ("action=investigate-search", "<strong>investigate-search</strong>"),
        ("actor=investigator", "staff:investigator"),
        ("actor=staff:auditor", "staff:auditor"),
    ],
)
def test_filters_narrow_the_entries(
    searched: str, auditor: FlaskClient, query: str, every_entry_has: str
) -> None:
    auditor.get("/audit/")  # one look of the auditor's own is in the log from now on
    everything = entries_on(auditor.get("/audit/").get_data(as_text=True))
    entries = entries_on(auditor.get(f"/audit/?{query}").get_data(as_text=True))
    assert entries
    assert all(every_entry_has in entry for entry in entries)
    assert not all(every_entry_has in entry for entry in everything)


def test_a_filter_matching_nothing_says_so(searched: str, auditor: FlaskClient) -> None:
    page = auditor.get("/audit/?case=NO-SUCH-CASE")
    assert page.status_code == 200
    assert entries_on(page.get_data(as_text=True)) == []
    assert "No entry matches." in text_of(page)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("case=PN%201;drop", "A case number has at most 40"),
        ("action=Investigate%20Search", "An action is written in small letters"),
        ("actor=" + "x" * 121, "At most 120 characters."),
    ],
)
def test_a_bad_filter_shows_its_message_and_no_entries(
    searched: str, auditor: FlaskClient, query: str, message: str
) -> None:
    page = auditor.get(f"/audit/?{query}")
    assert page.status_code == 400
    assert message in text_of(page)
    assert entries_on(page.get_data(as_text=True)) == []


def test_each_look_at_the_log_is_itself_audited(
    portal: Portal, searched: str, auditor: FlaskClient
) -> None:
    auditor.get(f"/audit/?case={CASE['case_number']}")
    with portal.tutela.database.reading() as session:
        reads = [e for e in audit_entries(session, limit=500) if e.action == "audit-read"]
    assert [e.actor for e in reads] == ["staff:auditor"]


def test_a_last_anchor_is_shown_with_its_transaction(
    portal: Portal, searched: str, auditor: FlaskClient
) -> None:
    anchor = anchor_audit_head(portal.tutela)
    assert anchor is not None
    text = text_of(auditor.get("/audit/"))
    assert anchor.tx_hash in text
    assert f"block {anchor.block}" in text
    # Only this look at the log came after the anchor.
    assert "Entries not yet anchored 1" in text


def test_an_edited_entry_shows_the_chain_broken_where_it_breaks(
    portal: Portal, searched: str, auditor: FlaskClient
) -> None:
    with portal.tutela.database.transaction() as session:
        first = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id).limit(1))
        session.execute(
            update(AuditEntry).where(AuditEntry.id == first).values(subject="someone-else")
        )
    assert "Broken." not in text_of(auditor.get("/audit/")), "an edit shows when verified"
    text = text_of(submit(auditor, "/audit/verify", {}, form_page="/audit/"))
    assert "Broken." in text
    assert f"Entry {first} does not follow from the one before" in text
    assert "Verified:" not in text


def test_each_look_checks_the_newest_anchor_against_the_log(
    portal: Portal, searched: str, auditor: FlaskClient
) -> None:
    anchor = anchor_audit_head(portal.tutela)
    assert anchor is not None
    text = text_of(auditor.get("/audit/"))
    assert "The log still holds the entry the ledger anchored last." in text
    assert "An anchor disagrees." not in text
    # The newest entries deleted: the chain of hashes still holds, the anchor does not.
    with portal.tutela.database.transaction() as session:
        newest = session.scalars(
            select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(2)
        ).all()
        session.execute(delete(AuditEntry).where(AuditEntry.id.in_(newest)))
    text = text_of(auditor.get("/audit/"))
    assert "An anchor disagrees." in text
    # This look's own entry now stands where the anchored one stood, with another hash.
    assert f"Entry {anchor.entry_count} is not what the ledger anchored for it" in text


def test_verifying_needs_the_pages_token(auditor: FlaskClient, searched: str) -> None:
    assert auditor.post("/audit/verify", data={}).status_code == 400


def test_only_the_auditor_opens_the_log(portal: Portal, searched: str) -> None:
    for role in ("registrar", "border-officer", "child-protection", "investigator"):
        assert portal.staff_client(role).get("/audit/").status_code == 403
    assert portal.client().get("/audit/").status_code == 302


def test_values_read_as_text_and_mappings_as_key_value_lines() -> None:
    assert audit_text(["open", "reviewed"]) == "open, reviewed"
    assert audit_text({"b": [1, 2], "a": None}) == "a: ; b: 1, 2"
    assert audit_lines({"card": "8124-2955-80", "criteria": ["card", "border_point"]}) == [
        "card: 8124-2955-80",
        "criteria: card, border_point",
    ]
