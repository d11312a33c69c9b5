"""Waiting for a real process's first word: the JSON line a server prints once it listens."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

READY_TIMEOUT = 120


def ready_line(
    process: subprocess.Popen[str], log: Path, stop: Callable[[int], object]
) -> dict[str, Any]:
    """The process's first stdout line as JSON; a process that never gets there is killed
    (so the read cannot hang the run) and the test fails with its log's end."""
    assert process.stdout is not None
    timer = threading.Timer(READY_TIMEOUT, process.kill)
    timer.start()
    try:
        ready = process.stdout.readline()
    finally:
        timer.cancel()
    if not ready:
        stop(signal.SIGKILL)
        pytest.fail(f"{process.args[0]} did not start: {log.read_text()[-3000:]}")
    announced: dict[str, Any] = json.loads(ready)
    return announced
