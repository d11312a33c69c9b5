"""Runs a local anvil node (npm ``@foundry-rs/anvil-linux-amd64``, pinned) for tests and benches.

anvil keeps a state snapshot per block under ``~/.foundry/anvil/tmp`` and never deletes it
(4.3 GB at 10,000 blocks, measured here): every node started here gets a temporary
``--cache-path`` and ``--prune-history``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger_client.errors import ChainUnavailableError

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
# anvil's first development account, from its public test mnemonic: only for local nodes.
DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_anvil(*extra: str, port: int | None = None) -> Iterator[str]:
    """Starts anvil on loopback and yields its URL; stops it on exit.

    Raises:
        ChainUnavailableError: anvil is not installed or does not answer.
    """
    if not ANVIL.exists():
        raise ChainUnavailableError(f"{ANVIL} is missing: run scripts/setup.sh (npm ci)")
    chosen = port or free_port()
    with tempfile.TemporaryDirectory(prefix="anvil-cache-") as cache:
        command = [str(ANVIL), "--port", str(chosen), "--host", "127.0.0.1"]
        # A bare --prune-history keeps no past state: anvil 1.5.1 then refuses an eth_call at
        # "latest" made while it mines (BlockOutOfRangeError, foundry-rs/foundry#10709).
        command += ["--cache-path", cache, "--prune-history", "256", "--silent", *extra]
        # Every test world funds its admin from the first account; the default 10,000 ETH
        # lasts for ten of them.
        if "--balance" not in extra:
            command += ["--balance", str(10**9)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{chosen}"
        try:
            wait_for_rpc(url)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def wait_for_rpc(url: str, timeout: float = 20.0) -> None:
    """Waits until ``url`` answers ``eth_chainId``.

    Raises:
        ChainUnavailableError: no answer within ``timeout`` seconds.
    """
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    deadline = time.monotonic() + timeout
    while True:
        request = urllib.request.Request(  # noqa: S310 - a loopback URL we built
            url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ChainUnavailableError(f"no JSON-RPC answer from {url} within {timeout:.0f} s")
        time.sleep(0.05)
