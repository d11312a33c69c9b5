"""The loops that run beside a node or a portal: the outbox reconciler, the indexer and the
notifier.

They run in a thread of ``tutela node``/``tutela serve`` against the node's own URL, so the
embedded chain is opened once, by the node, and every other process talks to it over HTTP.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from ledger_client.errors import TutelaError
from ledger_client.indexer.sync import follow as follow_events
from ledger_client.indexer.target import load_target
from ledger_client.notify.worker import follow_notifications
from ledger_client.outbox.reconciler import follow
from ledger_client.risk.engine import follow_flags
from ledger_client.services.audit_anchor import anchor_if_grown
from ledger_client.services.context import Tutela, open_tutela
from ledger_client.settings import Settings

logger = logging.getLogger(__name__)

RECONCILE_INTERVAL = 1.0
INDEX_INTERVAL = 0.5
NOTIFY_INTERVAL = 2.0
RISK_INTERVAL = 2.0


def start_background(
    settings: Settings, chain_url: str, stop: threading.Event
) -> list[threading.Thread]:
    """Starts the reconciler, the indexer and the notifier against the node at ``chain_url``."""
    settings = replace(settings, chain_url=chain_url)
    threads = [
        threading.Thread(
            target=_until_stopped,
            args=(settings, stop, _reconcile),
            name="tutela-reconciler",
            daemon=True,
        ),
        threading.Thread(
            target=_until_stopped, args=(settings, stop, _index), name="tutela-indexer", daemon=True
        ),
        # After the indexer: the risk flags are computed over the index it writes.
        threading.Thread(
            target=_until_stopped, args=(settings, stop, _risk), name="tutela-risk", daemon=True
        ),
        threading.Thread(
            target=_until_stopped,
            args=(settings, stop, _notify),
            name="tutela-notifier",
            daemon=True,
        ),
    ]
    if settings.audit_anchor_interval > 0:
        threads.append(
            threading.Thread(
                target=_until_stopped,
                args=(settings, stop, _anchor),
                name="tutela-anchor",
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    return threads


def _reconcile(tutela: Tutela, stop: threading.Event) -> None:
    follow(tutela.outbox, stop, RECONCILE_INTERVAL)


def _index(tutela: Tutela, stop: threading.Event) -> None:
    follow_events(
        tutela.database,
        tutela.w3,
        load_target(tutela.database),
        stop_event=stop,
        poll_interval=INDEX_INTERVAL,
        confirmations=tutela.settings.confirmations,
    )


def _risk(tutela: Tutela, stop: threading.Event) -> None:
    follow_flags(tutela.database, tutela.settings.risk, stop, RISK_INTERVAL)


def _notify(tutela: Tutela, stop: threading.Event) -> None:
    follow_notifications(tutela, stop, NOTIFY_INTERVAL)


def _anchor(tutela: Tutela, stop: threading.Event) -> None:
    # Every interval, and only when entries were added: an idle registry sends nothing.
    while not stop.wait(tutela.settings.audit_anchor_interval):
        anchor_if_grown(tutela)


def _until_stopped(
    settings: Settings, stop: threading.Event, loop: Callable[[Tutela, threading.Event], None]
) -> None:
    if not settings.initialised:
        logger.info("no deployment in %s yet: %s is idle", settings.data_dir, loop.__name__)
        return
    while not stop.is_set():
        try:
            with open_tutela(settings) as tutela:
                loop(tutela, stop)
        except TutelaError as error:
            logger.warning("%s stopped, restarting: %s", loop.__name__, error)
            stop.wait(RECONCILE_INTERVAL)
