"""Running the embedded chain: as a node other processes reach over HTTP, or in process.

One process at a time holds a data folder's chain: whoever holds ``chain.lock`` (a
``filelock.FileLock``, released by the OS even after ``kill -9``). The holder writes its
pid into the lock file so that a refused process can say who holds it.

* ``run_node`` (``tutela node``) holds the lock, serves the chain over HTTP on loopback
  and advertises its URL in ``node.json`` while it runs.
* ``open_embedded`` (every other command) uses that node over HTTP when one answers, and
  otherwise takes the lock and opens the chain in its own process.

Files in the data folder: ``chain.sqlite3`` (the chain), ``chain.lock``, ``node.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType, TracebackType

from filelock import FileLock, Timeout
from web3 import HTTPProvider
from web3.providers import BaseProvider

from ledger_client.chain.embedded import DEFAULT_CHAIN_ID, EmbeddedChain
from ledger_client.chain.provider import EmbeddedProvider
from ledger_client.chain.rpc_server import serve
from ledger_client.errors import ChainUnavailableError, TutelaError

logger = logging.getLogger(__name__)

CHAIN_FILE = "chain.sqlite3"
LOCK_FILE = "chain.lock"
NODE_FILE = "node.json"
#: How long a running node may take to answer eth_chainId before it counts as gone.
PROBE_TIMEOUT = 2.0


class EmbeddedSession:
    """Access to a data folder's chain; close it (or use ``with``) to release the chain.

    Attributes:
        provider: the web3 provider to use: an ``HTTPProvider`` to the running node, or an
            :class:`EmbeddedProvider` over the chain opened in this process.
        url: the running node's URL, or ``None`` when the chain is in this process.
        chain: the in-process chain, or ``None`` when a node serves it.
    """

    def __init__(
        self,
        provider: BaseProvider,
        *,
        url: str | None = None,
        chain: EmbeddedChain | None = None,
        lock: FileLock | None = None,
    ) -> None:
        """Bundle a provider with what must be released when the session ends."""
        self.provider = provider
        self.url = url
        self.chain = chain
        self._lock = lock

    def close(self) -> None:
        """Close the in-process chain and release the data folder's lock (idempotent)."""
        if self.chain is not None:
            self.chain.close()
            self.chain = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> EmbeddedSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _chain_lock(data_dir: Path, mode: str) -> FileLock:
    def record_owner(fd: int) -> None:
        # The lock file is opened without truncation and stays in place, so the holder's
        # pid written here is what a refused process reads back.
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "mode": mode}).encode(), 0)

    # thread_local=False: a session may be closed from another thread than its opener's.
    return FileLock(data_dir / LOCK_FILE, thread_local=False, on_acquired=record_owner)


def _take_chain_now(data_dir: Path, mode: str) -> FileLock:
    """The chain's lock, or a refusal naming who holds it; never a wait."""
    lock = _chain_lock(data_dir, mode)
    try:
        lock.acquire(timeout=0)
    except Timeout as error:
        raise ChainUnavailableError(
            f"another process holds the chain in {data_dir}: {_holder(data_dir)}"
        ) from error
    return lock


def _holder(data_dir: Path) -> str:
    """Describe the lock holder, e.g. "process 1234 (node)", or "another process"."""
    try:
        owner = json.loads((data_dir / LOCK_FILE).read_text())
        return f"process {int(owner['pid'])} ({owner['mode']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(  # noqa: S310 (running_node_url checked http://)
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as response:  # noqa: S310
            return "result" in json.loads(response.read())
    except (OSError, ValueError):
        return False


def running_node_url(data_dir: Path) -> str | None:
    """Return the URL of the node serving ``data_dir`` if one runs and answers, else None."""
    try:
        info = json.loads((data_dir / NODE_FILE).read_text())
        url, pid = str(info["url"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not url.startswith("http://") or not _pid_alive(pid) or not _answers(url):
        return None
    return url


def _write_node_file(data_dir: Path, url: str) -> None:
    temporary = data_dir / f".{NODE_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    os.replace(temporary, data_dir / NODE_FILE)  # atomic: readers never see half a file


def _remove_node_file(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / NODE_FILE).unlink()


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        logger.info("received signal %d, stopping the node", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_node(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8545,
    ready: Callable[[str], None] | None = None,
    *,
    stop: threading.Event | None = None,
) -> None:
    """Serve the data folder's chain over HTTP JSON-RPC until SIGTERM/SIGINT or ``stop``.

    Args:
        data_dir: the data folder holding ``chain.sqlite3``.
        host: a loopback address to listen on.
        port: the TCP port; 0 picks a free one.
        ready: called with the URL once the node listens and ``node.json`` is written.
        stop: an event that stops the node when set (for callers not in the main thread).

    Raises:
        ChainUnavailableError: another process holds the chain.
        ChainUnavailableError: the port cannot be bound.
        ConfigurationError: there is no chain in ``data_dir``, or ``host`` is not loopback.
    """
    lock = _take_chain_now(data_dir, "node")
    stop = stop or threading.Event()
    try:
        chain = EmbeddedChain.open(data_dir / CHAIN_FILE)
        try:
            try:
                server, url = serve(chain, host, port)
            except OSError as error:
                raise ChainUnavailableError(
                    f"cannot listen on {host}:{port}: {error.strerror or error}"
                ) from error
            try:
                _write_node_file(data_dir, url)
                with _stop_on_signals(stop):
                    if ready is not None:
                        ready(url)
                    logger.info("node for %s listening at %s", data_dir, url)
                    while not stop.wait(0.1):
                        pass
            finally:
                _remove_node_file(data_dir)
                server.shutdown()
                server.server_close()
        finally:
            chain.close()
    finally:
        lock.release()
    logger.info("node for %s stopped", data_dir)


def open_embedded(data_dir: Path, lock_timeout: float = 10) -> EmbeddedSession:
    """Reach the data folder's chain: through its running node, or opened in process.

    Args:
        data_dir: the data folder holding ``chain.sqlite3``.
        lock_timeout: how long to wait for another process to release the chain.

    Returns:
        A session; close it to release the chain.

    Raises:
        ChainUnavailableError: another process kept the chain for ``lock_timeout`` seconds
            without serving it.
        ConfigurationError: there is no chain in ``data_dir``.
        ChainError: the chain file cannot be opened.
    """
    deadline = time.monotonic() + lock_timeout
    lock = _chain_lock(data_dir, "in-process")
    while True:
        # Checked on every round: a node that is starting takes the lock before it
        # writes node.json, and then it is better used than waited for.
        url = running_node_url(data_dir)
        if url is not None:
            logger.debug("using the node at %s for %s", url, data_dir)
            return EmbeddedSession(HTTPProvider(url), url=url)
        try:
            lock.acquire(timeout=max(0.0, min(0.25, deadline - time.monotonic())))
            break
        except Timeout as error:
            if time.monotonic() >= deadline:
                raise ChainUnavailableError(
                    f"the chain in {data_dir} is held by {_holder(data_dir)}, which does not "
                    f"serve it; waited {lock_timeout:g} s"
                ) from error
    try:
        _remove_node_file(data_dir)  # we hold the lock, so any node.json is stale
        chain = EmbeddedChain.open(data_dir / CHAIN_FILE)
    except BaseException:
        lock.release()
        raise
    return EmbeddedSession(EmbeddedProvider(chain), chain=chain, lock=lock)


def create_embedded(
    data_dir: Path,
    genesis_alloc: Mapping[str, int],
    *,
    chain_id: int = DEFAULT_CHAIN_ID,
    time_offset: int = 0,
) -> Path:
    """Create the data folder's chain (at ``tutela init``), funding ``genesis_alloc``.

    Args:
        data_dir: the data folder; created if missing.
        genesis_alloc: checksum address -> balance in wei.
        chain_id: the chain's EIP-155 id.
        time_offset: where the chain's clock starts from the wall clock, in seconds:
            negative for a genesis in the past (see ``EmbeddedChain.create``).

    Returns:
        The path of the new chain file.

    Raises:
        ChainUnavailableError: another process holds the data folder's chain.
        ConfigurationError: a chain exists already, or the allocation or offset is invalid.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = _take_chain_now(data_dir, "init")
    try:
        path = data_dir / CHAIN_FILE
        EmbeddedChain.create(
            path, genesis_alloc=genesis_alloc, chain_id=chain_id, time_offset=time_offset
        ).close()
    finally:
        lock.release()
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m ledger_client.chain.node``: run a node until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve Tutela's embedded chain over HTTP.")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8545)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    def announce(url: str) -> None:
        print(url, flush=True)

    try:
        run_node(args.data_dir, args.host, args.port, announce)
    except (TutelaError, OSError) as error:
        print(f"tutela node: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
