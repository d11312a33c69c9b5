"""``tutela serve`` and ``tutela worker``: the portal's commands on the ``tutela`` CLI.

The console script starts here so that the portal can add its commands to the ledger
client's; the ledger client never imports the portal.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType

import click

from ledger_client.chain.node import run_node
from ledger_client.cli.main import Context, cli, common_options
from ledger_client.cli.main import main as ledger_main
from ledger_client.demo_population import HISTORY
from ledger_client.errors import ChainUnavailableError, TutelaError
from ledger_client.services.audit_anchor import ensure_audit_anchor
from ledger_client.services.background import start_background
from ledger_client.services.context import open_tutela
from ledger_client.services.investigation_backfill import backfill_lookups
from ledger_client.services.setup import initialise
from ledger_client.settings import Settings
from ledger_client.store.database import Database

logger = logging.getLogger(__name__)

NODE_START_TIMEOUT = 60


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Request threads. More than the cores add GIL contention, not capacity.",
)
@click.option("--demo", is_flag=True, help="Also create sample staff, guardians and children.")
@click.option(
    "--demo-population",
    type=click.Choice(["full", "small", "none"]),
    default="full",
    show_default=True,
    help="With --demo on a new data folder: a population with a year of crossings "
    "(full: 200 children, about two minutes to build; small: 24 children).",
)
@common_options
def serve(
    obj: Context, host: str, port: int, threads: int, demo: bool, demo_population: str
) -> None:
    """Run the portal; on the embedded default also the node, indexer, reconciler, notifier."""
    import waitress

    from guardian_portal import create_app
    from guardian_portal.demo import prepare_demo

    history = demo and demo_population != "none"
    settings = _ready_settings(obj.settings(), history=history)
    if demo:
        # Before the node and the background loops start: the history is written on the
        # chain in this process, and its notifications are marked unsent before the
        # notifier could pick them up.
        prepare_demo(settings, demo_population, echo=click.echo)
    stop = threading.Event()
    with _chain_for(settings, stop) as chain_url:
        running = replace(settings, chain_url=chain_url)
        _catch_up(running)
        start_background(settings, chain_url, stop)
        with open_tutela(running) as tutela:
            tutela.background_index = True
            try:
                server = waitress.create_server(
                    create_app(tutela), host=host, port=port, threads=threads, ident="tutela"
                )
            except OSError as error:
                raise click.ClickException(
                    f"cannot listen on {host}:{port}: {error.strerror or error}"
                ) from error
            click.echo(f"Tutela portal on http://{host}:{server.effective_port}/")
            # SIGTERM (systemd, a container, a test) stops as cleanly as Ctrl-C: waitress
            # leaves its loop on KeyboardInterrupt, then the node closes the chain.
            previous = signal.signal(signal.SIGTERM, _interrupt)
            try:
                server.run()
            except KeyboardInterrupt:
                pass
            finally:
                signal.signal(signal.SIGTERM, previous)
                stop.set()
                server.close()


@cli.command()
@common_options
def worker(obj: Context) -> None:
    """Run the indexer, the outbox reconciler and the notifier beside a gunicorn portal."""
    settings = _ready_settings(obj.settings())
    stop = threading.Event()
    with _chain_for(settings, stop) as chain_url:
        _catch_up(replace(settings, chain_url=chain_url))
        threads = start_background(settings, chain_url, stop)
        click.echo(f"Tutela worker following {chain_url}")
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            while not stop.wait(1.0):
                if not all(thread.is_alive() for thread in threads):
                    raise ChainUnavailableError("a worker loop stopped; see the log")
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            stop.set()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _ready_settings(settings: Settings, *, history: bool = False) -> Settings:
    if not settings.production:
        # Folders made before the portal lack its secrets; existing ones are kept.
        settings.generate_secrets()
    if not settings.initialised:
        # A demo's population writes a year of crossings into the embedded chain's past.
        back = -HISTORY if history and settings.embedded else 0
        initialise(settings, time_offset=back)
    else:
        # A folder made by an older release gets the portal's tables (the one process that
        # starts the deployment migrates; gunicorn's workers never do).
        database = Database(settings.database_url)
        try:
            database.migrate()
        finally:
            database.dispose()
    return settings


def _catch_up(running: Settings) -> None:
    """Brings a deployment made by an older release up to this one, before serving.

    The audit anchor contract is deployed where it is missing (the log's head cannot be
    anchored without it), and the investigators' keyed look-ups are filled for records
    sealed before they existed. Each costs a query when there is nothing to do.
    """
    try:
        if ensure_audit_anchor(running) is None:
            logger.warning("no audit anchor contract: an operator must deploy it")
    except TutelaError as error:
        # The portal still serves; the anchor thread picks the contract up once it exists.
        logger.warning("the audit anchor contract could not be deployed: %s", error)
    with open_tutela(running) as tutela:
        filled = backfill_lookups(tutela)
    if filled:
        logger.info("filled the search look-ups of %d older records", filled)


@contextmanager
def _chain_for(settings: Settings, stop: threading.Event) -> Iterator[str]:
    """The chain's URL: the configured node, or the embedded chain served from a thread."""
    if settings.chain_url is not None:
        yield settings.chain_url
        return
    ready = threading.Event()
    found: list[str] = []
    failure: list[BaseException] = []

    def announce(url: str) -> None:
        found.append(url)
        ready.set()

    def run() -> None:
        try:
            run_node(settings.data_dir, port=0, ready=announce, stop=stop)
        except BaseException as error:
            failure.append(error)
            ready.set()

    thread = threading.Thread(target=run, name="tutela-node", daemon=True)
    thread.start()
    if not ready.wait(NODE_START_TIMEOUT) or failure:
        stop.set()
        if failure and isinstance(failure[0], Exception):
            raise failure[0]
        raise ChainUnavailableError("the embedded chain did not start")
    try:
        yield found[0]
    finally:
        stop.set()
        thread.join(timeout=30)


def main() -> None:
    """The ``tutela`` command with the portal's commands added."""
    ledger_main()
