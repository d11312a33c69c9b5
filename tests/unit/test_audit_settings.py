"""How often the audit log is anchored, and the background loop that does it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ledger_client.errors import ConfigurationError
from ledger_client.services.background import start_background
from ledger_client.settings import load_settings


def test_the_interval_defaults_to_five_minutes(tmp_path: Path) -> None:
    assert load_settings(tmp_path, None, {}).audit_anchor_interval == 300


def test_the_interval_comes_from_the_environment(tmp_path: Path) -> None:
    environ = {"TUTELA_AUDIT_ANCHOR_INTERVAL": "60"}
    assert load_settings(tmp_path, None, environ).audit_anchor_interval == 60


@pytest.mark.parametrize("value", ["-1", "soon", "1.5"])
def test_a_malformed_interval_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="TUTELA_AUDIT_ANCHOR_INTERVAL"):
        load_settings(tmp_path, None, {"TUTELA_AUDIT_ANCHOR_INTERVAL": value})


@pytest.mark.parametrize(("interval", "anchoring"), [("300", True), ("0", False)])
def test_the_anchor_loop_runs_beside_the_others_unless_switched_off(
    tmp_path: Path, interval: str, anchoring: bool
) -> None:
    # A folder that is not initialised: every loop starts, finds nothing to do and ends.
    settings = load_settings(tmp_path, None, {"TUTELA_AUDIT_ANCHOR_INTERVAL": interval})
    stop = threading.Event()
    threads = start_background(settings, "http://127.0.0.1:1", stop)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert ("tutela-anchor" in {t.name for t in threads}) is anchoring
