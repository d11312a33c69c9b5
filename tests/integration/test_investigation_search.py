"""The investigators' search over a real embedded chain, with the store on SQLite and PostgreSQL.

The story (``investigation_world``) has six requests of three children; each criterion must
find exactly the requests the story says, and combined criteria only those meeting all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hexbytes import HexBytes
from sqlalchemy import func, select, update

from ledger_client.errors import InputError
from ledger_client.services.audit import open_private
from ledger_client.services.investigation import Case, SearchQuery, search
from ledger_client.services.investigation_backfill import backfill_lookups
from ledger_client.store.models import Child, CrossingRequest, Guardian
from ledger_client.store.portal_models import AuditEntry
from tests.integration.investigation_world import (
    ANDREI_BIRTH,
    FATHER_DOCUMENT,
    MOTHER_DOCUMENT,
    STRANGER_DOCUMENT,
    Story,
    story_world,
)

CASE = Case.parse("2026/0142", "a report of a child taken abroad")
GOOD = ("2026/0142", "a report of a child")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Story]:
    yield from story_world(request, tmp_path_factory, request.param)


def found(story: Story, **criteria: str) -> set[str]:
    result = search(story.tutela, story.investigator, CASE, SearchQuery(**criteria))
    return story.labels(h.request_id for h in result.hits)


def audit_count(story: Story) -> int:
    with story.tutela.database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"card": "maria"}, {"a1", "a2", "a3"}),
        ({"child_name": "  maria   POPESCU "}, {"a1", "a2", "a3"}),
        ({"birth_date": ANDREI_BIRTH}, {"b1", "b2"}),
        ({"companion_name": "grigore STAN"}, {"b1", "c1", "a3"}),
        ({"companion_document": "st 9999 0001"}, {"b1", "c1", "a3"}),
        ({"companion_document": FATHER_DOCUMENT}, {"a1"}),
        ({"guardian_name": "Vasile Rusu"}, {"b1", "b2"}),
        ({"guardian_document": MOTHER_DOCUMENT}, {"a1", "a2", "a3"}),
        ({"border_point": "md-otaci"}, {"b1", "a3"}),
        ({"outcome": "crossed"}, {"a1", "a2"}),
        ({"outcome": "denied"}, {"b1"}),
        ({"outcome": "expired"}, {"c1"}),
        ({"outcome": "turned-back"}, {"a3"}),
        ({"outcome": "pending"}, {"b2"}),
        # AND: each pair narrows to what meets both.
        ({"companion_document": STRANGER_DOCUMENT, "border_point": "MD-LEUSENI"}, {"c1"}),
        ({"card": "maria", "outcome": "crossed"}, {"a1", "a2"}),
        ({"guardian_name": "Vasile Rusu", "companion_name": "Grigore Stan"}, {"b1"}),
        ({"card": "ana", "companion_document": FATHER_DOCUMENT}, set()),
        ({"child_name": "Maria Rusu"}, set()),
    ],
)
def test_each_criterion_finds_exactly_its_crossings(
    story: Story, criteria: dict[str, str], expected: set[str]
) -> None:
    if "card" in criteria:
        criteria = criteria | {"card": story.cards[criteria["card"]]}
    assert found(story, **criteria) == expected


def test_dates_select_the_requests_of_those_days(story: Story) -> None:
    every = search(story.tutela, story.investigator, CASE, SearchQuery(date_from="2000-01-01"))
    days = {h.request_id: h.requested_at.date().isoformat() for h in every.hits}
    assert len(days) == 6
    first, last = min(days.values()), max(days.values())
    assert first < last
    assert found(story, date_to=first) == story.labels(r for r, d in days.items() if d == first)
    assert found(story, date_from=last) == story.labels(r for r, d in days.items() if d == last)
    middle = sorted(set(days.values()))[1]
    assert found(story, date_from=middle, date_to=middle) == story.labels(
        r for r, d in days.items() if d == middle
    )
    assert found(story, date_from=first, date_to=last) == set(story.requests)


def test_a_hit_tells_who_travelled_and_proves_where_it_is_on_the_chain(story: Story) -> None:
    result = search(story.tutela, story.investigator, CASE, SearchQuery(card=story.cards["maria"]))
    hits = {h.request_id: h for h in result.hits}
    # Newest first.
    assert [h.request_id for h in result.hits] == sorted(hits, reverse=True)
    assert result.truncated is False
    first = hits[story.requests["a1"]]
    assert (first.child_name, first.companion_name, first.companion_document) == (
        "Maria Popescu",
        "Ion Popescu",
        FATHER_DOCUMENT,
    )
    assert (first.direction, first.border_point, first.status) == ("exit", "MD-LEUSENI", "crossed")
    assert first.card_number == story.cards["maria"]
    assert first.companion_is_guardian is True
    assert hits[story.requests["a2"]].companion_is_guardian is True
    assert hits[story.requests["a3"]].companion_is_guardian is False
    for hit in result.hits:
        receipt = story.tutela.w3.eth.get_transaction_receipt(HexBytes(hit.proof.tx_hash))
        assert receipt["blockNumber"] == hit.proof.block
        assert any(log["logIndex"] == hit.proof.log_index for log in receipt["logs"])


def test_more_than_the_limit_is_cut_and_said(story: Story) -> None:
    result = search(
        story.tutela, story.investigator, CASE, SearchQuery(date_from="2000-01-01"), limit=2
    )
    assert len(result.hits) == 2
    assert result.truncated is True
    newest = max(story.requests.values())
    assert result.hits[0].request_id == newest


@pytest.mark.parametrize(
    ("case", "criteria", "message"),
    [
        (GOOD, {}, "at least one search criterion"),
        (GOOD, {"birth_date": "2016-13-01"}, "calendar date"),
        (GOOD, {"date_from": "12/01/2026"}, "YYYY-MM-DD"),
        (GOOD, {"outcome": "smuggled"}, "unknown outcome"),
        (GOOD, {"card": "1234"}, "digits"),
        (GOOD, {"companion_document": "\u041c\u041412"}, "letters A-Z"),
        (GOOD, {"border_point": "MD LEUSENI"}, "border point"),
        (
            GOOD,
            {"date_from": "2026-02-02", "date_to": "2026-02-01"},
            "ends before it starts",
        ),
        (("case 42!", "a report of a child"), {"border_point": "MD-OTACI"}, "case number"),
        (("", "a report of a child"), {"border_point": "MD-OTACI"}, "case number"),
        (("2026/0142", "because"), {"border_point": "MD-OTACI"}, "reason"),
    ],
)
def test_malformed_input_is_refused_and_writes_no_audit_entry(
    story: Story, case: tuple[str, str], criteria: dict[str, Any], message: str
) -> None:
    before = audit_count(story)
    with pytest.raises(InputError, match=message):
        search(story.tutela, story.investigator, Case.parse(*case), SearchQuery(**criteria))
    assert audit_count(story) == before


def test_every_search_writes_one_audit_entry_with_who_which_case_and_criteria(
    story: Story,
) -> None:
    before = audit_count(story)
    case = Case.parse("INV-7.2026", "checking a tip from the border police")
    search(
        story.tutela,
        story.investigator,
        case,
        SearchQuery(companion_name="Grigore Stan", border_point="MD-OTACI"),
    )
    search(story.tutela, story.investigator, case, SearchQuery(card=story.cards["ana"]))
    with story.tutela.database.reading() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(2)))
    assert audit_count(story) == before + 2
    ana, stranger = entries
    for entry in entries:
        assert (entry.action, entry.subject, entry.actor_name) == (
            "investigate-search",
            "INV-7.2026",
            "Petru Ciobanu",
        )
        assert entry.actor_kind == "staff"
        assert entry.detail["case"] == "INV-7.2026"
    assert stranger.detail["criteria"] == ["companion_name", "border_point"]
    assert ana.detail["criteria"] == ["card"]
    # The log says what was searched by; the reason and the values are sealed in it.
    assert "Grigore" not in str(stranger.detail)
    assert stranger.sealed is not None
    assert b"Grigore" not in stranger.sealed
    assert open_private(stranger, story.tutela.master_key) == {
        "reason": "checking a tip from the border police",
        "criteria": {"companion_name": "Grigore Stan", "border_point": "MD-OTACI"},
    }


def test_backfill_fills_missing_look_ups_once(story: Story) -> None:
    with story.tutela.database.transaction() as session:
        session.execute(update(Child).values(name_lookup=None, birth_lookup=None))
        session.execute(update(Guardian).values(name_lookup=None))
        session.execute(update(CrossingRequest).values(companion_name_lookup=None))
    assert found(story, child_name="Maria Popescu") == set()
    filled = backfill_lookups(story.tutela, batch=2)
    # Three children, four guardians, six requests.
    assert filled == 3 + 4 + 6
    assert found(story, child_name="Maria Popescu") == {"a1", "a2", "a3"}
    assert found(story, guardian_name="Vasile Rusu") == {"b1", "b2"}
    assert found(story, companion_name="Grigore Stan") == {"b1", "c1", "a3"}
    assert found(story, birth_date=ANDREI_BIRTH) == {"b1", "b2"}
    assert backfill_lookups(story.tutela) == 0
