"""Findings as CSV: one row per timeline item or search hit, each with its ledger proof.

RFC 4180 through the csv module (CRLF line ends, quotes doubled). A spreadsheet runs a cell
that starts with = + - @ (or a tab or carriage return) as a formula, and names come from
whoever filled in a form; such cells get a leading apostrophe, so they read as text.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Final

from ledger_client.services.investigation_model import SearchResult, Timeline

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
TIMELINE_HEADER: Final = (
    "at",
    "kind",
    "summary",
    "actor",
    "request_id",
    "tx_hash",
    "block",
    "log_index",
)
SEARCH_HEADER: Final = (
    "request_id",
    "card_number",
    "child_name",
    "companion_name",
    "companion_document",
    "companion_is_guardian",
    "direction",
    "border_point",
    "requested_at",
    "status",
    "tx_hash",
    "block",
    "log_index",
)


def findings_csv(timeline_or_result: Timeline | SearchResult) -> str:
    """The CSV text of a child's timeline or of a search's hits, header row first.

    Raises:
        TypeError: neither a Timeline nor a SearchResult (a programming error).
    """
    rows: list[tuple[Any, ...]]
    header: tuple[str, ...]
    if isinstance(timeline_or_result, Timeline):
        header = TIMELINE_HEADER
        rows = [
            (
                item.at.isoformat(),
                item.kind,
                item.summary,
                item.actor,
                "" if item.request_id is None else item.request_id,
                item.proof.tx_hash,
                item.proof.block,
                item.proof.log_index,
            )
            for item in timeline_or_result.items
        ]
    elif isinstance(timeline_or_result, SearchResult):
        header = SEARCH_HEADER
        rows = [
            (
                hit.request_id,
                hit.card_number,
                hit.child_name,
                hit.companion_name,
                hit.companion_document,
                "yes" if hit.companion_is_guardian else "no",
                hit.direction,
                hit.border_point,
                hit.requested_at.isoformat(),
                hit.status,
                hit.proof.tx_hash,
                hit.proof.block,
                hit.proof.log_index,
            )
            for hit in timeline_or_result.hits
        ]
    else:
        raise TypeError(f"no CSV form for {type(timeline_or_result).__name__}")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(tuple(neutralise(cell) for cell in row) for row in rows)
    return buffer.getvalue()


def neutralise(cell: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, made plain text."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell
