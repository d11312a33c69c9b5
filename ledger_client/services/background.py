"""The loops that run beside a node or a portal: the outbox reconciler (and the indexer).

They run in a thread of ``tutela node``/``tutela serve`` against the node's own URL, so the
embedded chain is opened once, by the node, and every other process talks to it over HTTP.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from ledger_client.errors import TutelaError
from ledger_client.outbox.reconciler import follow
from ledger_client.services.context import open_tutela
from ledger_client.settings import Settings

logger = logging.getLogger(__name__)

RECONCILE_INTERVAL = 1.0


def start_reconciler(settings: Settings, chain_url: str, stop: threading.Event) -> threading.Thread:
    """Starts reconciling the data folder's outbox against the node at ``chain_url``."""
    thread = threading.Thread(
        target=_reconcile_until_stopped,
        args=(replace(settings, chain_url=chain_url), stop),
        name="tutela-reconciler",
        daemon=True,
    )
    thread.start()
    return thread


def _reconcile_until_stopped(settings: Settings, stop: threading.Event) -> None:
    if not settings.initialised:
        logger.info("no deployment in %s yet: the reconciler is idle", settings.data_dir)
        return
    while not stop.is_set():
        try:
            with open_tutela(settings) as tutela:
                follow(tutela.outbox, stop, RECONCILE_INTERVAL)
        except TutelaError as error:
            logger.warning("reconciler stopped, restarting: %s", error)
            stop.wait(RECONCILE_INTERVAL)
