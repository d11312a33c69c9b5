"""The production shape on one machine: ``tutela worker`` (the node, indexer, reconciler and
notifier) beside a gunicorn portal, both real processes, both stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the process exited early"
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet, or a worker still importing the app
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {seconds} s")


@pytest.mark.slow
def test_gunicorn_serves_the_portal_beside_a_worker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "TUTELA_DATA_DIR": str(data)}
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [str(BIN / "tutela"), "worker"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    portal = None
    try:
        deadline = time.monotonic() + 90
        while not (data / "node.json").exists():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker never served the chain"
            time.sleep(0.2)
        port = _free_port()
        portal = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "guardian_portal.wsgi:app",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(f"http://127.0.0.1:{port}/healthz", portal)
        login = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert login.status_code == 200
        assert "csrf_token" in login.text
    finally:
        if portal is not None:
            portal.send_signal(signal.SIGTERM)
            portal.wait(timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    # A clean stop: the chain is closed and no stale node address is left behind.
    assert not (data / "node.json").exists()


def test_gunicorn_refuses_to_start_without_a_node(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run([str(BIN / "tutela"), "init", "--data-dir", str(data)], check=True)
    result = subprocess.run(
        [sys.executable, "-c", "import guardian_portal.wsgi"],
        env={**os.environ, "TUTELA_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "start 'tutela worker' before gunicorn" in result.stderr


def test_serving_a_folder_from_an_older_release_brings_its_store_up_to_date(
    tmp_path: Path,
) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from guardian_portal.cli import _ready_settings
    from ledger_client.settings import load_settings
    from ledger_client.store import database as store

    settings = load_settings(tmp_path / "data")
    subprocess.run([str(BIN / "tutela"), "init", "--data-dir", str(settings.data_dir)], check=True)
    old = store.Database(settings.database_url)
    config = Config()
    config.set_main_option("script_location", str(store._MIGRATIONS))
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004_event_index")  # the store before the portal
    assert not inspect(old.engine).has_table("guardian_accounts")
    old.dispose()
    _ready_settings(settings)
    upgraded = store.Database(settings.database_url)
    try:
        assert inspect(upgraded.engine).has_table("guardian_accounts")
        assert inspect(upgraded.engine).has_table("notifications")
    finally:
        upgraded.dispose()
