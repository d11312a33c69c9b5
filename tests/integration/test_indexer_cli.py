"""``tutela index`` and ``tutela verify`` as an operator runs them on a data folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update

from ledger_client.cli.main import main
from ledger_client.indexer.tables import ChainDecision
from ledger_client.services import staff
from ledger_client.services.context import open_tutela
from ledger_client.services.setup import initialise
from ledger_client.settings import Settings
from ledger_client.store.database import Database
from tests.conftest import make_settings
from tests.integration.test_indexer import short_story

TUTELA = Path(sys.prefix) / "bin" / "tutela"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A data folder on the embedded chain with one crossing, closed again (no process holds
    the chain, so that each command opens it as an operator's would)."""
    settings = make_settings(tmp_path / "data", None, monkeypatch)
    initialise(settings)
    with open_tutela(settings) as tutela:
        staff.add_staff(tutela, "registrar", "registrar")
        staff.add_staff(tutela, "officer", "border-officer")
        short_story(tutela, "Ursu")
    return settings


def tutela(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> tuple[int, str]:
    """Runs ``tutela --data-dir … ARGS`` in this process; (exit status, stdout)."""
    monkeypatch.setattr(sys, "argv", ["tutela", "--data-dir", str(settings.data_dir), *args])
    try:
        main()
        status = 0
    except SystemExit as stop:
        status = int(stop.code or 0)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_index_then_verify_then_a_tampered_row(
    folder: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = tutela(folder, monkeypatch, capsys, "index")
    assert status == 0
    assert out.startswith("indexed ")
    assert " events in blocks 1 to " in out
    status, out = tutela(folder, monkeypatch, capsys, "index")
    assert (status, out.split(" at block")[0]) == (0, "index up to date")

    status, out = tutela(folder, monkeypatch, capsys, "verify")
    assert status == 0
    assert out.startswith("index matches the chain: ")
    assert len(out.strip().splitlines()) == 1

    database = Database(folder.database_url)
    with database.transaction() as session:
        decision = session.scalars(select(ChainDecision)).one()
        session.execute(update(ChainDecision).values(approved=False))
    database.dispose()
    status, out = tutela(folder, monkeypatch, capsys, "verify")
    assert status == 1
    assert out.splitlines() == [
        "index differs from the chain in 1 row:",
        f"  chain_decisions, block {decision.block_number} log {decision.log_index} "
        f"(tx {decision.tx_hash}): approved is False in the index, True on the chain",
    ]
    status, out = tutela(folder, monkeypatch, capsys, "verify", "--json")
    assert status == 1
    answer = json.loads(out)
    assert answer["matches"] is False
    [difference] = answer["verify"]["differences"]
    assert (difference["table"], difference["kind"], difference["columns"]) == (
        "chain_decisions",
        "changed",
        [{"column": "approved", "index": False, "chain": True}],
    )


def test_index_follow_stops_cleanly_on_sigterm(folder: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    command = [str(TUTELA), "--data-dir", str(folder.data_dir), "--json", "index", "--follow"]
    with subprocess.Popen(
        [*command, "--poll", "0.1"], stdout=subprocess.PIPE, text=True, env=env
    ) as follower:
        try:
            assert follower.stdout is not None
            first = json.loads(follower.stdout.readline())
            assert first["index"]["events"] > 0
            follower.send_signal(signal.SIGTERM)
            assert follower.wait(timeout=15) == 0
        finally:
            if follower.poll() is None:
                follower.kill()
