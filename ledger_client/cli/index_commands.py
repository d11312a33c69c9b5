"""``tutela index`` and ``tutela verify``: the event index, built and checked."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click

from ledger_client.cli.main import Context, cli, common_options
from ledger_client.cli.output import emit
from ledger_client.indexer.fetch import DEFAULT_CHUNK
from ledger_client.indexer.sync import IndexReport, follow, index_once
from ledger_client.indexer.target import load_target
from ledger_client.indexer.verify import verify_index
from ledger_client.services.context import open_tutela

_CHUNK = click.option(
    "--chunk",
    default=DEFAULT_CHUNK,
    show_default=True,
    type=click.IntRange(1),
    metavar="BLOCKS",
    help="Blocks per log request (halved when the node finds it too large).",
)


def _report_text(report: IndexReport) -> str:
    lines = [
        f"reorganisation: blocks after {r.fork_block} replaced; "
        f"{r.depth} indexed blocks and {r.events_removed} events rolled back"
        for r in report.reorganisations
    ]
    if report.first_block is None:
        lines.append(f"index up to date at block {report.last_block} (head {report.head})")
    else:
        lines.append(
            f"indexed {report.events} events in blocks {report.first_block} to "
            f"{report.last_block} (head {report.head})"
        )
    return "\n".join(lines)


@cli.command("index")
@click.option("--follow", "keep_following", is_flag=True, help="Keep following the chain.")
@click.option(
    "--poll",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    metavar="SECONDS",
    help="Pause between rounds with --follow.",
)
@_CHUNK
@common_options
def index_command(obj: Context, keep_following: bool, poll: float, chunk: int) -> None:
    """Copy the contracts' events into the store's index, from where it stopped.

    Stays TUTELA_CONFIRMATIONS blocks behind the head. With --follow it runs until Ctrl-C or
    SIGTERM; on the embedded chain, start 'tutela node' first so that other commands can use
    the chain meanwhile.
    """
    settings = obj.settings()
    with open_tutela(settings) as tutela:
        target = load_target(tutela.database)
        if not keep_following:
            report = index_once(
                tutela.database,
                tutela.w3,
                target,
                confirmations=settings.confirmations,
                chunk_size=chunk,
            )
            emit(obj.as_json, {"index": report}, lambda: _report_text(report))
            return
        stop = threading.Event()

        def stop_following(*_: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, stop_following)

        def show(report: IndexReport) -> None:
            if report.first_block is not None or report.reorganisations:
                emit(obj.as_json, {"index": report}, lambda: _report_text(report))

        try:
            follow(
                tutela.database,
                tutela.w3,
                target,
                stop_event=stop,
                poll_interval=poll,
                confirmations=settings.confirmations,
                chunk_size=chunk,
                on_report=show,
            )
        except KeyboardInterrupt:
            stop.set()


@cli.command("verify")
@_CHUNK
@common_options
def verify_command(obj: Context, chunk: int) -> None:
    """Rebuild the index from the chain in a scratch space and compare, row by row.

    Exits with 1 when the index differs from the chain, listing every difference.
    """
    with open_tutela(obj.settings()) as tutela:
        report = verify_index(
            tutela.database, tutela.w3, load_target(tutela.database), chunk_size=chunk
        )

    def text() -> str:
        lines = [report.summary()] + [f"  {d.text()}" for d in report.differences]
        if report.difference_count > len(report.differences):
            lines.append(f"  … and {report.difference_count - len(report.differences)} more")
        return "\n".join(lines)

    emit(obj.as_json, {"verify": report, "matches": report.matches}, text)
    if not report.matches:
        raise SystemExit(1)
