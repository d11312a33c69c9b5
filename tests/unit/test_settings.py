"""Settings come from arguments, TUTELA_* variables and the data folder, validated at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger_client.errors import ConfigurationError
from ledger_client.settings import MASTER_KEY, load_settings


def test_embedded_default_needs_no_configuration(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.embedded
    assert settings.database_url == f"sqlite:///{tmp_path / 'tutela.sqlite3'}"
    assert not settings.initialised


def test_generated_secrets_are_kept_and_private(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    settings.generate_secrets()
    first = settings.secret(MASTER_KEY)
    settings.generate_secrets()
    assert settings.secret(MASTER_KEY) == first
    assert len(first) == 32
    assert (tmp_path / "secrets" / MASTER_KEY).stat().st_mode & 0o077 == 0


def test_production_refuses_generated_secrets(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"TUTELA_ENV": "production"})
    with pytest.raises(ConfigurationError, match="TUTELA_MASTER_KEY"):
        settings.generate_secrets()
    with pytest.raises(ConfigurationError, match="TUTELA_MASTER_KEY must be set"):
        settings.secret(MASTER_KEY)


def test_production_takes_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUTELA_MASTER_KEY", "ab" * 32)
    settings = load_settings(tmp_path, environ={"TUTELA_ENV": "production"})
    assert settings.secret(MASTER_KEY) == bytes.fromhex("ab" * 32)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TUTELA_CHAIN_URL": "ftp://node"}, "must start with http"),
        ({"TUTELA_KEYSTORE_WORK_FACTOR": "many"}, "whole number"),
        ({"TUTELA_ADMIN_TRANSFER_DELAY": "-1"}, "must not be negative"),
    ],
)
def test_malformed_settings_are_refused(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(tmp_path, environ=environ)


def test_malformed_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTELA_MASTER_KEY", "not hex")
    with pytest.raises(ConfigurationError, match="64 hexadecimal"):
        load_settings(tmp_path, environ={}).secret(MASTER_KEY)


def test_repr_hides_the_funder_key_and_database_password(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path,
        environ={
            "TUTELA_FUNDER_PRIVATE_KEY": "0x" + "11" * 32,
            "TUTELA_DATABASE_URL": "postgresql+psycopg://tutela:s3cret@db/tutela",
        },
    )
    shown = repr(settings)
    assert "11" * 32 not in shown
    assert "s3cret" not in shown
