"""``tutela audit``: check the audit log against itself and its anchors, anchor it, read it."""

from __future__ import annotations

from typing import Any

import click

from ledger_client.cli.main import Context, cli, common_options
from ledger_client.cli.output import emit
from ledger_client.services.audit import (
    Actor,
    AnchorView,
    AuditStatus,
    AuditView,
    anchor_audit_head,
    audit_page,
    audit_status,
)
from ledger_client.services.audit_anchor import ensure_audit_anchor
from ledger_client.services.context import open_tutela, staff_acting_as
from ledger_client.store.models import StaffRole


@cli.group("audit")
def audit_group() -> None:
    """The audit log: verify it, anchor its head on the ledger, read it as an auditor."""


@audit_group.command("verify")
@common_options
def audit_verify(obj: Context) -> None:
    """Check every entry's hash and every anchor on the ledger (read from the chain itself).

    Exits with 1 when the chain of entries is broken or the log disagrees with an anchor,
    naming the first bad entry.
    """
    with open_tutela(obj.settings()) as tutela:
        status = audit_status(tutela)
    emit(obj.as_json, _status_json(status), lambda: _status_text(status))
    if not status.holds:
        raise SystemExit(1)


@audit_group.command("anchor")
@common_options
def audit_anchor(obj: Context) -> None:
    """Anchor the log's entry count and head on the ledger now, if it grew since the last one.

    Deploys the audit anchor first where the deployment predates it.
    """
    settings = obj.settings()
    ensure_audit_anchor(settings)
    with open_tutela(settings) as tutela:
        anchor = anchor_audit_head(tutela)
        status = None if anchor is not None else audit_status(tutela)

    def text() -> str:
        if anchor is not None:
            return (
                f"anchored {anchor.entry_count} entries (head {anchor.head[:16]}…) "
                f"in block {anchor.block}, tx {anchor.tx_hash}"
            )
        assert status is not None
        return "nothing new to anchor: " + _last_anchor_text(status)

    shown = _anchor_json(anchor) if anchor is not None else None
    emit(obj.as_json, {"anchor": shown, "anchored": anchor is not None}, text)


@audit_group.command("log")
@click.option("--as", "acting_as", default=None, metavar="NAME", help="The auditor reading.")
@click.option("--actor", default=None, help="Only entries by this actor (name or kind:name).")
@click.option("--case", default=None, help="Only entries about this case number.")
@click.option("--action", default=None, help="Only entries of this action.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@common_options
def audit_log(
    obj: Context,
    acting_as: str | None,
    actor: str | None,
    case: str | None,
    action: str | None,
    limit: int,
) -> None:
    """Read the latest entries, private parts opened; the read is itself recorded."""
    with open_tutela(obj.settings()) as tutela, tutela.database.transaction() as session:
        auditor = staff_acting_as(session, StaffRole.AUDITOR, acting_as)
        reader = Actor("staff", auditor.id, auditor.name, "cli")
        page = audit_page(
            session,
            tutela.master_key,
            reader=reader,
            actor=actor,
            case=case,
            action=action,
            limit=limit,
        )
    emit(obj.as_json, {"entries": page}, lambda: _page_text(page))


def _status_json(status: AuditStatus) -> dict[str, Any]:
    last = status.last_anchor
    return {
        "holds": status.holds,
        "entries": status.entries,
        "broken_at": status.broken_at,
        "anchors_checked": status.anchors_checked,
        "anchor_mismatch": status.anchor_mismatch,
        "last_anchor": _anchor_json(last) if last is not None else None,
        "unanchored": status.unanchored,
    }


def _anchor_json(anchor: AnchorView) -> dict[str, Any]:
    return {
        "entry_count": anchor.entry_count,
        "head": anchor.head,
        "tx_hash": anchor.tx_hash,
        "block": anchor.block,
        "at": anchor.at.isoformat(),
    }


def _status_text(status: AuditStatus) -> str:
    lines = [
        f"{_count(status.entries, 'entry', 'entries')}; "
        f"{_count(status.anchors_checked, 'anchor', 'anchors')} checked"
    ]
    if status.broken_at is not None:
        lines.append(f"BROKEN: entry {status.broken_at} was edited or removed (its hash differs)")
    if status.anchor_mismatch is not None:
        lines.append(f"ANCHOR MISMATCH: {status.anchor_mismatch}")
    lines.append(_last_anchor_text(status))
    if status.holds:
        lines.append("the audit log holds")
    return "\n".join(lines)


def _last_anchor_text(status: AuditStatus) -> str:
    last = status.last_anchor
    if last is None:
        return f"never anchored; {_count(status.unanchored, 'entry', 'entries')} unanchored"
    return (
        f"last anchor: {_count(last.entry_count, 'entry', 'entries')}, block {last.block}, "
        f"tx {last.tx_hash}, {last.at.isoformat()}; "
        f"{_count(status.unanchored, 'entry', 'entries')} since"
    )


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _page_text(page: list[AuditView]) -> str:
    if not page:
        return "no entries"
    lines = []
    for entry in page:
        private = f" private={entry.private}" if entry.private else ""
        lines.append(
            f"#{entry.id} {entry.at} {entry.actor} {entry.action} {entry.subject} "
            f"{entry.detail}{private}"
        )
    return "\n".join(lines)
