"""The investigation service's pure parts: cases, queries, look-ups and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from ledger_client.errors import InputError
from ledger_client.identity import (
    CommitmentKey,
    birth_date_lookup,
    child_name_lookup,
    companion_name_lookup,
    guardian_name_lookup,
)
from ledger_client.services.investigation import (
    Case,
    CrossingHit,
    LedgerProof,
    SearchQuery,
    SearchResult,
    Timeline,
    TimelineItem,
    findings_csv,
)
from ledger_client.services.investigation_model import guardian_documents_at, status_of

KEY = CommitmentKey.from_bytes(bytes(range(32)))
OTHER_KEY = CommitmentKey.from_bytes(bytes(range(1, 33)))
PROOF = LedgerProof("0x" + "ab" * 32, 12, 3)
AT = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def test_a_case_takes_a_number_and_a_reason() -> None:
    assert Case.parse(" 2026/0142 ", "  a report   of a missing child ") == Case(
        "2026/0142", "a report of a missing child"
    )
    assert Case.parse("INV-7.a_b", "x" * 500).number == "INV-7.a_b"


@pytest.mark.parametrize(
    ("number", "reason", "message"),
    [
        ("", "a report of a missing child", "case number"),
        ("2026 0142", "a report of a missing child", "case number"),
        ("x" * 41, "a report of a missing child", "case number"),
        ("2026/0142", "too short", "reason"),
        ("2026/0142", "x" * 501, "reason"),
        ("2026/0142", "a report\x00 of a child", "control character"),
    ],
)
def test_a_bad_case_is_refused(number: str, reason: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Case.parse(number, reason)


def test_a_query_is_tidied_and_names_its_criteria() -> None:
    query = SearchQuery(
        companion_document="md-0912 3345",
        border_point=" md-leuseni ",
        outcome="Crossed",
        date_from="2026-01-01",
        child_name="   ",
    )
    checked = query.validated()
    assert checked == SearchQuery(
        companion_document="MD09123345",
        border_point="MD-LEUSENI",
        outcome="crossed",
        date_from="2026-01-01",
    )
    assert checked.criteria() == ["companion_document", "border_point", "date_from", "outcome"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (SearchQuery(), "at least one"),
        (SearchQuery(child_name=" "), "at least one"),
        (SearchQuery(birth_date="2016-02-30"), "calendar date"),
        (SearchQuery(date_to="2016/02/01"), "YYYY-MM-DD"),
        (SearchQuery(outcome="lost"), "unknown outcome"),
        (SearchQuery(border_point="MD LEUSENI"), "border point"),
        (SearchQuery(guardian_document="--"), "document number"),
        (SearchQuery(companion_name="x" * 201), "longer than 200"),
        (SearchQuery(date_from="2026-02-02", date_to="2026-02-01"), "ends before"),
    ],
)
def test_a_bad_query_is_refused_without_repeating_the_value(
    query: SearchQuery, message: str
) -> None:
    with pytest.raises(InputError, match=message) as raised:
        query.validated()
    for value in ("MD LEUSENI", "lost", "xxxxxxxx"):
        assert value not in str(raised.value)


def test_look_ups_match_however_a_name_is_typed_and_never_across_kinds() -> None:
    assert child_name_lookup(KEY, "Maria", "Popescu") == child_name_lookup(
        KEY, " MARIA ", "popescu  "
    )
    # Ş with a cedilla and Ș with a comma are one letter in Romanian names.
    assert guardian_name_lookup(KEY, "Ştefan Ţurcanu") == guardian_name_lookup(
        KEY, "ștefan țurcanu"
    )
    assert child_name_lookup(KEY, "Ana Maria", "Pop") == child_name_lookup(KEY, "Ana", "Maria Pop")
    lookups = {
        child_name_lookup(KEY, "Ion", "Popescu"),
        guardian_name_lookup(KEY, "Ion Popescu"),
        companion_name_lookup(KEY, "Ion Popescu"),
        birth_date_lookup(KEY, date(2016, 4, 12)),
    }
    assert len(lookups) == 4
    assert companion_name_lookup(KEY, "Ion Popescu") != companion_name_lookup(
        OTHER_KEY, "Ion Popescu"
    )
    assert all(len(x) == 66 and x.startswith("0x") for x in lookups)


def test_an_open_request_past_its_expiry_reads_expired() -> None:
    def row(status: str) -> SimpleNamespace:
        return SimpleNamespace(status=status, expires_at=100)

    assert status_of(row("pending"), 101) == "expired"
    assert status_of(row("approved"), 101) == "expired"
    assert status_of(row("pending"), 100) == "pending"
    assert status_of(row("denied"), 500) == "denied"
    assert status_of(row("crossed"), 500) == "crossed"


def test_the_guardians_at_a_request_are_those_added_before_and_not_removed() -> None:
    def change(block: int, kind: str, guardian: str, document: str | None) -> SimpleNamespace:
        return SimpleNamespace(
            block_number=block, log_index=0, change=kind, guardian=guardian,
            document_commitment=document,
        )  # fmt: skip

    changes = [
        change(1, "added", "0xA", "docA"),
        change(2, "added", "0xB", "docB"),
        change(4, "removed", "0xA", None),
        change(6, "added", "0xC", "docC"),
    ]
    request = SimpleNamespace(block_number=5, log_index=1)
    assert guardian_documents_at(changes, request) == {"docB"}


def hit(companion: str) -> CrossingHit:
    return CrossingHit(
        request_id=7,
        card_number="1234-5678-90",
        child_name="Maria Popescu",
        companion_name=companion,
        companion_document="MD09123345",
        companion_is_guardian=False,
        direction="exit",
        border_point="MD-LEUSENI",
        requested_at=AT,
        status="crossed",
        proof=PROOF,
    )


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_cells_a_spreadsheet_would_run(start: str) -> None:
    text = findings_csv(SearchResult((hit(start + "SUM(A1)"), hit('Ion, "Nelu" Pop')), False))
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    assert header[:4] == ["request_id", "card_number", "child_name", "companion_name"]
    assert header[-3:] == ["tx_hash", "block", "log_index"]
    assert rows[0][3] == "'" + start + "SUM(A1)"
    # Commas and quotes survive the round trip (RFC 4180 quoting).
    assert rows[1][3] == 'Ion, "Nelu" Pop'
    assert rows[0][-3:] == [PROOF.tx_hash, "12", "3"]
    assert text.endswith("\r\n")


def test_timeline_csv_has_one_row_per_item() -> None:
    items = tuple(
        TimelineItem(AT, "requested", f"exit request {n}", "=officer", n, PROOF) for n in (1, 2)
    )
    found = Timeline("0x" + "00" * 16, "1234-5678-90", "Maria Popescu", "2016-04-12", items, ())
    header, *rows = list(csv.reader(io.StringIO(findings_csv(found), newline="")))
    assert header == [
        "at",
        "kind",
        "summary",
        "actor",
        "request_id",
        "tx_hash",
        "block",
        "log_index",
    ]
    assert [r[4] for r in rows] == ["1", "2"]
    assert {r[3] for r in rows} == {"'=officer"}
