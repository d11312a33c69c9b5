"""Fixtures shared by every test: fresh data folders, an anvil node, an initialised Tutela."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger_client.chain.anvil import DEV_PRIVATE_KEY, running_anvil
from ledger_client.services import staff
from ledger_client.services.context import Tutela, open_tutela
from ledger_client.services.setup import initialise
from ledger_client.settings import Settings, load_settings
from tests.support.postgres import Cluster, throwaway_cluster

# scrypt at the default work factor costs ~35 ms a key; tests make hundreds of keys.
FAST_KEYSTORES = "1024"


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast keystores and none of the shell's folder, chain or store settings. Every test
    starts so; a module-scoped fixture calls this on a ``MonkeyPatch.context()`` of its own."""
    monkeypatch.setenv("TUTELA_KEYSTORE_WORK_FACTOR", FAST_KEYSTORES)
    for name in ("TUTELA_DATA_DIR", "TUTELA_CHAIN_URL", "TUTELA_DATABASE_URL", "TUTELA_ENV"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fast_keystores(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL server for the whole run.

    When it cannot start, every test that asks for it errors with the reason: CI must
    not pass with the PostgreSQL half of the store tests silently skipped.
    """
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store: every store, outbox and indexer test takes this fixture."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    name = f"test_{uuid.uuid4().hex[:16]}"
    cluster.create_database(name)
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    with running_anvil() as url:
        yield url


@dataclass
class World:
    """An initialised Tutela with one staff member of each role."""

    settings: Settings
    tutela: Tutela


def make_settings(
    data_dir: Path, chain_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    if chain_url is not None:
        monkeypatch.setenv("TUTELA_FUNDER_PRIVATE_KEY", DEV_PRIVATE_KEY)
    return load_settings(data_dir, chain_url)


@pytest.fixture(params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def chain_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "embedded":
        return None
    return str(request.getfixturevalue("anvil_url"))


def _world(settings: Settings) -> Iterator[World]:
    initialise(settings)
    with open_tutela(settings) as tutela:
        staff.add_staff(tutela, "registrar", "registrar")
        staff.add_staff(tutela, "officer", "border-officer")
        staff.add_staff(tutela, "protector", "child-protection")
        yield World(settings=settings, tutela=tutela)


@pytest.fixture
def world(
    tmp_path: Path, chain_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """Runs the test once on the embedded chain and once on anvil."""
    yield from _world(make_settings(tmp_path / "data", chain_url, monkeypatch))


@pytest.fixture
def embedded_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from _world(make_settings(tmp_path / "data", None, monkeypatch))
