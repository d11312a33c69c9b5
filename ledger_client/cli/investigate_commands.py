"""``tutela investigate ...``: the investigators' workbench for scripts.

Every command acts as a staff member holding the investigator role (``--as NAME``, or the
only investigator); every read of personal data asks for a case number and a reason, which
the audit log keeps with who read what.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ledger_client.cli.main import Context, cli, common_options
from ledger_client.cli.output import emit
from ledger_client.risk.engine import update_flags
from ledger_client.risk.flags import review_flag
from ledger_client.services import investigation as inv
from ledger_client.services.audit import Actor
from ledger_client.services.context import Tutela, open_tutela, staff_acting_as
from ledger_client.services.investigation_backfill import backfill_lookups
from ledger_client.services.investigation_ledger import parse_proof
from ledger_client.store.models import StaffRole


@cli.group("investigate")
def investigate_group() -> None:
    """Search crossings, trace a child, check facts on the ledger, review risk flags."""


def _case_options(function: Any) -> Any:
    function = click.option(
        "--reason", required=True, metavar="TEXT", help="Why (10-500 characters); audited."
    )(function)
    return click.option("--case", "case_number", required=True, metavar="CASE")(function)


def _as_option(function: Any) -> Any:
    return click.option(
        "--as", "acting_as", default=None, metavar="NAME", help="Act as this investigator."
    )(function)


def _csv_option(function: Any) -> Any:
    return click.option(
        "--csv",
        "csv_file",
        default=None,
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="Also write the findings, with their ledger proofs, to FILE as CSV.",
    )(function)


@contextmanager
def _investigator(obj: Context, acting_as: str | None) -> Iterator[tuple[Tutela, Actor]]:
    """Tutela, and the acting investigator; anyone else is refused before anything is read."""
    with open_tutela(obj.settings()) as tutela:
        with tutela.database.transaction() as session:
            member = staff_acting_as(session, StaffRole.INVESTIGATOR, acting_as)
            actor = Actor("staff", member.id, member.name, member.address)
        yield tutela, actor


def plain(value: Any) -> Any:
    """A value as JSON can hold it: dataclasses as objects, times in ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _write_csv(csv_file: Path | None, findings: inv.Timeline | inv.SearchResult) -> None:
    if csv_file is not None:
        csv_file.write_text(inv.findings_csv(findings), encoding="utf-8", newline="")


@investigate_group.command("search")
@_case_options
@click.option("--card", default=None, help="The child's card number.")
@click.option("--name", "child_name", default=None, help="The child's given and family names.")
@click.option("--birth-date", default=None, metavar="YYYY-MM-DD")
@click.option("--companion-name", default=None)
@click.option("--companion-document", default=None)
@click.option("--guardian-name", default=None)
@click.option("--guardian-document", default=None)
@click.option("--border-point", default=None, metavar="CODE")
@click.option("--from", "date_from", default=None, metavar="YYYY-MM-DD", help="Requested on/after.")
@click.option("--to", "date_to", default=None, metavar="YYYY-MM-DD", help="Requested on/before.")
@click.option("--outcome", default=None, help="crossed, turned-back, denied, expired, ...")
@_as_option
@_csv_option
@common_options
def search_command(
    obj: Context,
    case_number: str,
    reason: str,
    acting_as: str | None,
    csv_file: Path | None,
    **criteria: str | None,
) -> None:
    """Crossing requests matching every criterion given, newest first (at most 200)."""
    case = inv.Case.parse(case_number, reason)
    query = inv.SearchQuery(**criteria)
    query.validated()  # refused before the chain and the store are opened
    with _investigator(obj, acting_as) as (tutela, actor):
        result = inv.search(tutela, actor, case, query)
    _write_csv(csv_file, result)

    def text() -> str:
        lines = [
            f"#{h.request_id}  {h.requested_at:%Y-%m-%d %H:%M}  {h.direction} {h.border_point}  "
            f"card {h.card_number} {h.child_name}  with {h.companion_name} "
            f"({h.companion_document}{', a guardian' if h.companion_is_guardian else ''})  "
            f"{h.status}  tx {h.proof.tx_hash} block {h.proof.block} log {h.proof.log_index}"
            for h in result.hits
        ]
        count = len(result.hits)
        lines.append(
            f"{count} crossing{'' if count == 1 else 's'}"
            + (" (more matched: narrow the search)" if result.truncated else "")
        )
        return "\n".join(lines)

    emit(obj.as_json, {"search": plain(result)}, text)


@investigate_group.command("timeline")
@click.argument("card")
@_case_options
@_as_option
@_csv_option
@common_options
def timeline_command(
    obj: Context,
    card: str,
    case_number: str,
    reason: str,
    acting_as: str | None,
    csv_file: Path | None,
) -> None:
    """Everything the ledger recorded about the child with CARD, each with its proof."""
    case = inv.Case.parse(case_number, reason)
    with _investigator(obj, acting_as) as (tutela, actor):
        found = inv.timeline(tutela, actor, case, card)
    _write_csv(csv_file, found)

    def text() -> str:
        lines = [f"{found.child_name}, born {found.birth_date}, card {found.card_number}"]
        lines += [
            f"  {i.at:%Y-%m-%d %H:%M}  {i.summary}  [{i.actor}]  "
            f"tx {i.proof.tx_hash} block {i.proof.block} log {i.proof.log_index}"
            for i in found.items
        ]
        lines += [
            f"  flag {f.indicator} ({f.status}, {f.score}): {f.explanation}" for f in found.flags
        ]
        return "\n".join(lines)

    emit(obj.as_json, {"timeline": plain(found)}, text)


@investigate_group.command("check")
@click.argument("tx_hash")
@click.argument("log_index")
@_case_options
@_as_option
@common_options
def check_command(
    obj: Context,
    tx_hash: str,
    log_index: str,
    case_number: str,
    reason: str,
    acting_as: str | None,
) -> None:
    """Read the event at TX_HASH, LOG_INDEX from the node again and compare it with the index.

    Exits with 1 when the chain does not confirm what the index holds.
    """
    case = inv.Case.parse(case_number, reason)
    proof = parse_proof(tx_hash, log_index)
    with _investigator(obj, acting_as) as (tutela, actor):
        found = inv.check_on_ledger(tutela, actor, case, proof)

    def text() -> str:
        if found.confirmed:
            return f"confirmed: {found.event} in block {found.block}, as the index holds it"
        return "\n".join(["NOT confirmed:"] + [f"  {d}" for d in found.differences])

    emit(obj.as_json, {"check": plain(found)}, text)
    if not found.confirmed:
        raise SystemExit(1)


@investigate_group.command("links")
@click.option("--card", default=None)
@click.option("--companion-document", default=None)
@click.option("--guardian-document", default=None)
@click.option("--depth", default=2, show_default=True, type=click.IntRange(1, 3))
@click.option("--max-nodes", default=60, show_default=True, type=click.IntRange(2, 200))
@_case_options
@_as_option
@common_options
def links_command(
    obj: Context,
    card: str | None,
    companion_document: str | None,
    guardian_document: str | None,
    depth: int,
    max_nodes: int,
    case_number: str,
    reason: str,
    acting_as: str | None,
) -> None:
    """Children, companions and guardians around a child or a person."""
    case = inv.Case.parse(case_number, reason)
    with _investigator(obj, acting_as) as (tutela, actor):
        graph = inv.links(
            tutela,
            actor,
            case,
            card=card,
            companion_document=companion_document,
            guardian_document=guardian_document,
            depth=depth,
            max_nodes=max_nodes,
        )
    labels = {n.key: n.label for n in graph.nodes}

    def text() -> str:
        lines = [
            f"{n.kind} {n.label}"
            + (f" (card {n.card_number})" if n.card_number else "")
            + (" [flagged]" if n.flagged else "")
            for n in graph.nodes
        ]
        lines += [
            f"  {labels[e.source]} {e.kind} {labels[e.target]}"
            + (f" (requests {', '.join(map(str, e.crossings))})" if e.crossings else "")
            for e in graph.edges
        ]
        return "\n".join(lines)

    emit(obj.as_json, {"links": plain(graph)}, text)


@investigate_group.command("flags")
@click.option("--open", "open_only", is_flag=True, help="Only flags not yet reviewed.")
@_as_option
@common_options
def flags_command(obj: Context, open_only: bool, acting_as: str | None) -> None:
    """The risk flags, brought up to date, with the people and crossings behind each."""
    with _investigator(obj, acting_as) as (tutela, actor):
        _update_flags(tutela)
        found = inv.flags_with_people(tutela, actor, open_only=open_only)
    flags: list[dict[str, Any]] = [
        {
            "id": flag.id,
            "indicator": flag.indicator,
            "number": flag.number,
            "score": flag.score,
            "explanation": flag.explanation,
            "status": flag.status,
            "people": [plain(person) for person in people],
            "crossings": list(flag.crossings),
        }
        for flag, people in found
    ]

    def text() -> str:
        if not flags:
            return "no flags"
        return "\n".join(
            f"#{f['id']} {f['indicator']} score {f['score']} ({f['status']}): {f['explanation']}"
            + "".join(f"\n    {p['role']} {p['name']}" for p in f["people"])
            for f in flags
        )

    emit(obj.as_json, {"flags": flags}, text)


@investigate_group.command("review")
@click.argument("flag_id", type=click.IntRange(1))
@click.option("--note", required=True, metavar="TEXT", help="What the review found (audited).")
@_as_option
@common_options
def review_command(obj: Context, flag_id: int, note: str, acting_as: str | None) -> None:
    """Mark flag FLAG_ID reviewed, with a note (kept sealed; its hash is audited)."""
    with (
        _investigator(obj, acting_as) as (tutela, actor),
        tutela.database.transaction() as session,
    ):
        flag = review_flag(session, flag_id, actor, note, tutela.master_key)
    emit(
        obj.as_json,
        {"flag": plain(flag)},
        lambda: f"flag #{flag.id} ({flag.indicator}) marked reviewed by {flag.reviewed_by}",
    )


@investigate_group.command("backfill")
@common_options
def backfill_command(obj: Context) -> None:
    """Fill the search look-ups of records written before they existed (safe to re-run)."""
    with open_tutela(obj.settings()) as tutela:
        filled = backfill_lookups(tutela)
    emit(obj.as_json, {"backfill": {"filled": filled}}, lambda: f"look-ups filled on {filled} rows")


def _update_flags(tutela: Tutela) -> None:
    """The index, then the flags, brought up to the chain's head."""
    tutela.refresh_index()
    with tutela.database.transaction() as session:
        update_flags(session, tutela.settings.risk)
