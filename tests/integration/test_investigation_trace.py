"""A child's timeline, the check on the ledger, links and CSV, over the story on a real chain."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from hexbytes import HexBytes
from sqlalchemy import func, select, update

from ledger_client.errors import InputError, NotFoundError
from ledger_client.indexer.tables import ChainRequest
from ledger_client.risk.engine import update_flags
from ledger_client.risk.flags import list_flags
from ledger_client.risk.thresholds import RiskThresholds
from ledger_client.services import children, crossings
from ledger_client.services.investigation import (
    Case,
    LedgerProof,
    Person,
    SearchQuery,
    check_on_ledger,
    findings_csv,
    flag_with_people,
    flags_with_people,
    links,
    search,
    timeline,
)
from ledger_client.store.portal_models import AuditEntry
from tests.conftest import World
from tests.integration.investigation_world import (
    STRANGER_DOCUMENT,
    TRICK,
    TRICK_DOCUMENT,
    VASILE_DOCUMENT,
    Story,
    add_investigator,
    story_world,
)

CASE = Case.parse("2026/0142", "a report of a child taken abroad")


@pytest.fixture(scope="module")
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Story]:
    yield from story_world(request, tmp_path_factory, "sqlite")


def last_audit(story: Story) -> AuditEntry:
    with story.tutela.database.reading() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
        session.expunge(entry)
        return entry


def test_the_timeline_lists_every_event_of_the_child_with_a_proof_the_chain_confirms(
    story: Story,
) -> None:
    found = timeline(story.tutela, story.investigator, CASE, story.cards["maria"])
    assert (found.child_name, found.birth_date, found.card_number) == (
        "Maria Popescu",
        "2016-04-12",
        story.cards["maria"],
    )
    kinds = [item.kind for item in found.items]
    assert kinds == [
        "enrolled",
        "guardian-added",
        "guardian-added",
        "requested",  # a1, with her father
        "guardian-decided",
        "recorded",
        "requested",  # a2, an entry with her mother: approved when opened
        "recorded",
        "requested",  # a3, with the stranger
        "guardian-decided",
        "recorded",
    ]
    assert [item.at for item in found.items] == sorted(item.at for item in found.items)
    summaries = "\n".join(item.summary for item in found.items)
    assert "guardian Ion Popescu added at enrolment" in summaries
    assert "travelling with Grigore Stan (not a guardian)" in summaries
    assert "travelling with Ion Popescu (one of the child's guardians)" in summaries
    decided = [item for item in found.items if item.kind == "guardian-decided"]
    assert {item.actor for item in decided} == {"Elena Popescu"}
    # The facts say what the summaries say, for the portal to say it in its reader's language.
    facts = {(item.kind, item.request_id): item.facts for item in found.items}
    a1, a3 = story.requests["a1"], story.requests["a3"]
    assert facts[("requested", a1)] == {
        "request_id": a1,
        "direction": "exit",
        "border_point": "MD-LEUSENI",
        "companion": "Ion Popescu",
        "companion_is_guardian": True,
    }
    assert facts[("requested", a3)]["companion_is_guardian"] is False
    assert facts[("guardian-decided", a3)] == {
        "request_id": a3,
        "guardian": "Elena Popescu",
        "approved": True,
        "set_aside": False,
    }
    assert facts[("recorded", a3)] == {"request_id": a3, "outcome": "turned-back"}
    assert found.items[0].facts == {"card": story.cards["maria"], "policy": "any"}
    assert [i.facts for i in found.items[1:3]] == [
        {"guardian": "Ion Popescu", "at_enrolment": True},
        {"guardian": "Elena Popescu", "at_enrolment": True},
    ]
    assert {i.request_id for i in found.items if i.kind == "recorded"} == {
        story.requests["a1"],
        story.requests["a2"],
        story.requests["a3"],
    }
    for item in found.items:
        receipt = story.tutela.w3.eth.get_transaction_receipt(HexBytes(item.proof.tx_hash))
        assert receipt["blockNumber"] == item.proof.block
        assert receipt["status"] == 1
        assert any(log["logIndex"] == item.proof.log_index for log in receipt["logs"])
    entry = last_audit(story)
    assert (entry.action, entry.subject, entry.actor_name) == (
        "investigate-timeline",
        "2026/0142",
        "Petru Ciobanu",
    )
    assert entry.detail == {"case": "2026/0142", "criteria": ["card"]}


def test_a_timeline_of_an_unknown_card_is_not_found_and_not_audited(story: Story) -> None:
    before = last_audit(story).id
    with pytest.raises(NotFoundError):
        timeline(story.tutela, story.investigator, CASE, "0000000000")
    assert last_audit(story).id == before


def test_check_on_ledger_confirms_a_true_item_and_names_a_tampered_one(story: Story) -> None:
    hit = search(story.tutela, story.investigator, CASE, SearchQuery(outcome="denied")).hits[0]
    confirmed = check_on_ledger(story.tutela, story.investigator, CASE, hit.proof)
    assert confirmed.confirmed is True
    assert (confirmed.event, confirmed.block, confirmed.differences) == (
        "CrossingRequested",
        hit.proof.block,
        (),
    )
    assert last_audit(story).action == "investigate-check"
    rows = ChainRequest.__table__
    with story.tutela.database.transaction() as session:
        session.execute(
            update(rows)
            .where(rows.c.request_id == hit.request_id)
            .values(border_point="MD-FAKE", block_hash="0x" + "ab" * 32)
        )
    try:
        tampered = check_on_ledger(story.tutela, story.investigator, CASE, hit.proof)
    finally:
        with story.tutela.database.transaction() as session:
            session.execute(
                update(rows)
                .where(rows.c.request_id == hit.request_id)
                .values(border_point=hit.border_point, block_hash=confirmed_block_hash(story, hit))
            )
    assert tampered.confirmed is False
    assert any(
        "border point" in d and "'MD-FAKE'" in d and "'MD-OTACI'" in d for d in tampered.differences
    )
    assert any("block hash" in d for d in tampered.differences)
    assert len(tampered.differences) == 2
    # A proof pointing elsewhere: a block other than the event's, and a log that is not there.
    moved = LedgerProof(hit.proof.tx_hash, hit.proof.block + 1, hit.proof.log_index)
    assert check_on_ledger(story.tutela, story.investigator, CASE, moved).differences == (
        f"the proof names block {hit.proof.block + 1}; the chain has it in {hit.proof.block}",
    )
    nowhere = LedgerProof(hit.proof.tx_hash, 0, 99)
    assert not check_on_ledger(story.tutela, story.investigator, CASE, nowhere).confirmed


def confirmed_block_hash(story: Story, hit: object) -> str:
    proof = hit.proof  # type: ignore[attr-defined]
    receipt = story.tutela.w3.eth.get_transaction_receipt(HexBytes(proof.tx_hash))
    return "0x" + bytes(receipt["blockHash"]).hex()


def test_a_transaction_that_is_not_on_the_chain_says_so(story: Story) -> None:
    missing = LedgerProof("0x" + "12" * 32, 5, 0)
    found = check_on_ledger(story.tutela, story.investigator, CASE, missing)
    assert found.confirmed is False
    assert found.differences == (f"transaction {'0x' + '12' * 32} is not on the chain",)
    with pytest.raises(InputError, match="transaction hash"):
        check_on_ledger(story.tutela, story.investigator, CASE, LedgerProof("0x12", 5, 0))


def test_links_around_a_companion_show_the_three_children_they_took(story: Story) -> None:
    graph = links(
        story.tutela, story.investigator, CASE, companion_document=STRANGER_DOCUMENT, depth=1
    )
    assert graph.nodes[0].key == graph.centre
    assert (graph.nodes[0].kind, graph.nodes[0].label) == ("companion", "Grigore Stan")
    children = {n.label: n for n in graph.nodes if n.kind == "child"}
    assert set(children) == {"Maria Popescu", "Andrei Rusu", "Ana Ceban"}
    assert children["Ana Ceban"].card_number == story.cards["ana"]
    edges = {(e.target, e.kind): e.crossings for e in graph.edges if e.source == graph.centre}
    assert edges == {
        (children["Maria Popescu"].key, "travelled-with"): (story.requests["a3"],),
        (children["Andrei Rusu"].key, "travelled-with"): (story.requests["b1"],),
        (children["Ana Ceban"].key, "travelled-with"): (story.requests["c1"],),
    }
    assert len(graph.nodes) == 4
    entry = last_audit(story)
    assert (entry.action, entry.detail["criteria"]) == ("investigate-links", ["companion_document"])


def test_links_reach_two_steps_and_stop_at_the_cap(story: Story) -> None:
    graph = links(story.tutela, story.investigator, CASE, card=story.cards["ana"])
    labels = {n.label: n.kind for n in graph.nodes}
    # Ana -> her guardian and the stranger -> the stranger's other children.
    assert labels == {
        "Ana Ceban": "child",
        "Olga Ceban": "guardian",
        "Grigore Stan": "companion",
        "Maria Popescu": "child",
        "Andrei Rusu": "child",
    }
    capped = links(story.tutela, story.investigator, CASE, card=story.cards["ana"], max_nodes=3)
    assert len(capped.nodes) == 3
    keys = {n.key for n in capped.nodes}
    assert all(e.source in keys and e.target in keys for e in capped.edges)
    by_guardian = links(story.tutela, story.investigator, CASE, guardian_document=VASILE_DOCUMENT)
    assert by_guardian.nodes[0].kind == "guardian"
    assert "Andrei Rusu" in {n.label for n in by_guardian.nodes}
    with pytest.raises(InputError, match="exactly one"):
        links(
            story.tutela, story.investigator, CASE, card=story.cards["ana"], guardian_document="X1"
        )


def audit_count(story: Story) -> int:
    with story.tutela.database.reading() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_links_around_a_person_start_from_the_key_their_node_carries(story: Story) -> None:
    around_ana = links(story.tutela, story.investigator, CASE, card=story.cards["ana"], depth=1)
    (stranger,) = [n for n in around_ana.nodes if n.label == "Grigore Stan"]
    graph = links(story.tutela, story.investigator, CASE, person=stranger.key, depth=1)
    assert graph.centre == stranger.key
    entry = last_audit(story)
    assert (entry.action, entry.subject, entry.detail) == (
        "investigate-links",
        CASE.number,
        {"case": CASE.number, "criteria": ["person"]},
    )
    by_document = links(
        story.tutela, story.investigator, CASE, companion_document=STRANGER_DOCUMENT, depth=1
    )
    assert graph == by_document
    # The key as typed in capitals is the same person.
    shouted = "person:0x" + stranger.key.removeprefix("person:0x").upper()
    assert links(story.tutela, story.investigator, CASE, person=shouted, depth=1) == graph


@pytest.mark.parametrize(
    ("person", "error", "message"),
    [
        ("ST99990001", InputError, "person:0x"),
        ("person:0x1234", InputError, "person:0x"),
        ("child:0x" + "ab" * 32, InputError, "person:0x"),
        ("person:0x" + "ab" * 32, NotFoundError, "no crossing request nor guardian"),
    ],
)
def test_a_malformed_or_unknown_person_is_refused_and_not_audited(
    story: Story, person: str, error: type[Exception], message: str
) -> None:
    before = audit_count(story)
    with pytest.raises(error, match=message):
        links(story.tutela, story.investigator, CASE, person=person)
    with pytest.raises(InputError, match="exactly one"):
        links(
            story.tutela,
            story.investigator,
            CASE,
            card=story.cards["ana"],
            person="person:0x" + "ab" * 32,
        )
    assert audit_count(story) == before


def test_search_csv_parses_back_and_neutralises_formulas(story: Story) -> None:
    result = search(
        story.tutela, story.investigator, CASE, SearchQuery(companion_document=TRICK_DOCUMENT)
    )
    rows = list(csv.reader(io.StringIO(findings_csv(result), newline="")))
    header, (row,) = rows[0], rows[1:]
    record = dict(zip(header, row, strict=True))
    assert record["companion_name"] == "'" + TRICK
    assert record["child_name"] == "Andrei Rusu"
    hit = result.hits[0]
    assert (record["tx_hash"], record["block"], record["log_index"]) == (
        hit.proof.tx_hash,
        str(hit.proof.block),
        str(hit.proof.log_index),
    )


def test_timeline_csv_has_a_row_per_item_with_its_proof(story: Story) -> None:
    found = timeline(story.tutela, story.investigator, CASE, story.cards["andrei"])
    rows = list(csv.reader(io.StringIO(findings_csv(found), newline="")))
    assert rows[0][-3:] == ["tx_hash", "block", "log_index"]
    assert len(rows) == 1 + len(found.items)
    assert [r[5] for r in rows[1:]] == [i.proof.tx_hash for i in found.items]
    assert not any(cell.startswith("=") for r in rows for cell in r)


def test_reads_of_each_kind_are_audited_once(story: Story) -> None:
    with story.tutela.database.reading() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    timeline(story.tutela, story.investigator, CASE, story.cards["ana"])
    links(story.tutela, story.investigator, CASE, card=story.cards["ana"], depth=1)
    with story.tutela.database.reading() as session:
        after = session.scalar(select(func.count()).select_from(AuditEntry))
    assert after == (before or 0) + 2


def test_one_flag_comes_with_its_people_and_whose_each_crossing_was(story: Story) -> None:
    story.tutela.refresh_index()
    with story.tutela.database.transaction() as session:
        update_flags(session, RiskThresholds())
    with story.tutela.database.reading() as session:
        (taken,) = [f for f in list_flags(session) if f.indicator == "companion-unrelated-children"]
    found, people = flag_with_people(story.tutela, story.investigator, taken.id)
    assert found == taken
    assert Person("companion", "Grigore Stan", "ST99990001", None) in people
    # A flag about a companion spans three children: each crossing is one child's.
    by_child = {p.name: (p.card_number, p.crossings) for p in people if p.role == "child"}
    assert by_child == {
        "Maria Popescu": (story.cards["maria"], (story.requests["a3"],)),
        "Andrei Rusu": (story.cards["andrei"], (story.requests["b1"],)),
        "Ana Ceban": (story.cards["ana"], (story.requests["c1"],)),
    }
    entry = last_audit(story)
    assert (entry.action, entry.subject, entry.detail) == (
        "investigate-flag",
        f"flag:{taken.id}",
        {"flag": taken.id},
    )
    # The list names the same people, with the same crossings.
    listed = flags_with_people(story.tutela, story.investigator)
    assert [p for f, p in listed if f.id == taken.id] == [people]
    before = audit_count(story)
    with pytest.raises(NotFoundError, match="no risk flag"):
        flag_with_people(story.tutela, story.investigator, taken.id + 1000)
    assert audit_count(story) == before


def test_a_flag_about_a_child_names_the_adults_on_its_crossings(story: Story) -> None:
    story.tutela.refresh_index()
    # Andrei was refused at OTACI (b1) and asked for again at LEUSENI two days later (b2):
    # flagged when the window is widened to three days.
    with story.tutela.database.transaction() as session:
        update_flags(session, RiskThresholds(denial_window_hours=72))
    with story.tutela.database.reading() as session:
        (taken,) = [f for f in list_flags(session) if f.indicator == "denied-then-elsewhere"]
    _, people = flag_with_people(story.tutela, story.investigator, taken.id)
    companions = {p.name: p.crossings for p in people if p.role == "companion"}
    assert companions == {
        "Grigore Stan": (story.requests["b1"],),
        TRICK: (story.requests["b2"],),
    }
    with story.tutela.database.transaction() as session:
        update_flags(session, RiskThresholds())  # the other tests read the default flags


def test_a_corrected_child_is_found_by_either_name_with_all_their_crossings(
    embedded_world: World,
) -> None:
    tutela = embedded_world.tutela
    investigator = add_investigator(tutela)
    child = children.enrol_child(
        tutela,
        given_name="Mariia",
        family_name="Popesku",
        birth_date="2016-04-12",
        birth_place="Chișinău",
        guardian_specs=["Ion Popescu;MD-0912-3345;ion.popescu@example.org"],
    )

    def cross(card: str, border: str) -> int:
        return crossings.request_crossing(
            tutela,
            card,
            direction="exit",
            border_point=border,
            companion_name="Ion Popescu",
            companion_document="MD09123345",
        ).request

    before = cross(child.card, "MD-LEUSENI")
    corrected = children.correct_child(
        tutela, child.card, given_name="Maria", family_name="Popescu", birth_date="2016-04-13"
    )
    after = cross(corrected.card, "MD-OTACI")

    def found(**criteria: str) -> set[int]:
        result = search(tutela, investigator, CASE, SearchQuery(**criteria))
        return {h.request_id for h in result.hits}

    both = {before, after}
    assert found(child_name="Maria Popescu") == both
    assert found(child_name="Mariia Popesku") == both
    assert found(birth_date="2016-04-13") == both
    assert found(card=child.card) == both
    assert found(guardian_name="Ion Popescu") == both
    line = timeline(tutela, investigator, CASE, child.card)
    assert line.child_name == "Maria Popescu"
    assert [i.kind for i in line.items].count("enrolled") == 2
    assert "superseded" in [i.kind for i in line.items]
    assert {i.request_id for i in line.items if i.kind == "requested"} == both
