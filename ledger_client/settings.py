"""Settings, loaded once from ``TUTELA_*`` variables and the data folder.

The embedded default needs no configuration: ``tutela init`` generates its secrets into the
data folder. With ``TUTELA_ENV=production`` generated secrets are refused and every secret must
come from the environment (or a secrets manager that sets it).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ledger_client.errors import ConfigurationError
from ledger_client.risk.thresholds import RiskThresholds

DEFAULT_DATA_DIR = Path("tutela-data")
CONFIG_FILE = "config.json"
SECRETS_DIR = "secrets"

# Names of the secrets and the variables that carry them in production.
MASTER_KEY = "master.key"
COMMITMENT_KEY = "commitment.key"
KEYSTORE_PASSWORD = "keystore.password"  # noqa: S105 - a file name, not a password
# Signs the portal's session and CSRF cookies.
PORTAL_KEY = "portal.key"
# Mixed into every guardian PIN before scrypt, so that a copy of the store alone does not
# let anyone try the million six-digit PINs offline; kept apart from the store.
PIN_PEPPER = "pin.pepper"
# Ed25519 seed of the key the registry signs card QR payloads with.
CARD_SIGNING_KEY = "card-signing.key"
# HMAC key of the SMS gateway's webhooks, both ways.
SMS_WEBHOOK_KEY = "sms-webhook.key"
_SECRET_VARIABLES = {
    MASTER_KEY: "TUTELA_MASTER_KEY",
    COMMITMENT_KEY: "TUTELA_COMMITMENT_KEY",
    KEYSTORE_PASSWORD: "TUTELA_KEYSTORE_PASSWORD",
    PORTAL_KEY: "TUTELA_PORTAL_KEY",
    PIN_PEPPER: "TUTELA_PIN_PEPPER",
    CARD_SIGNING_KEY: "TUTELA_CARD_SIGNING_KEY",
    SMS_WEBHOOK_KEY: "TUTELA_SMS_WEBHOOK_KEY",
}


@dataclass(frozen=True)
class Settings:
    """Everything a Tutela process needs to know before it touches the chain or the store."""

    data_dir: Path
    chain_url: str | None
    database_url: str
    production: bool
    keystore_work_factor: int
    admin_transfer_delay: int
    funder_private_key: str | None
    # Blocks on top of a transaction before Tutela treats it as final (0: the embedded chain
    # and instant-finality permissioned chains such as QBFT).
    confirmations: int = 0
    # Seconds between anchors of the audit log's head on the ledger (0: no background anchoring).
    audit_anchor_interval: int = 300
    # When the risk indicators fire (TUTELA_RISK_* variables).
    risk: RiskThresholds = field(default_factory=RiskThresholds)

    def __repr__(self) -> str:
        # The funder key is a secret: never print it.
        return (
            f"Settings(data_dir={self.data_dir!s}, chain_url={self.chain_url!r}, "
            f"database_url={_redact_url(self.database_url)!r}, production={self.production})"
        )

    @property
    def embedded(self) -> bool:
        """True when Tutela runs its own chain in the data folder."""
        return self.chain_url is None

    @property
    def chain_file(self) -> Path:
        """The embedded chain's database."""
        return self.data_dir / "chain.sqlite3"

    @property
    def initialised(self) -> bool:
        """True once ``tutela init`` has written the data folder's configuration."""
        return (self.data_dir / CONFIG_FILE).exists()

    def secret(self, name: str) -> bytes:
        """Returns a secret from its variable (hex) or, outside production, its file.

        Raises:
            ConfigurationError: when the secret is missing or malformed.
        """
        variable = _SECRET_VARIABLES[name]
        value = os.environ.get(variable)
        if value:
            return _decode_secret(variable, value)
        if self.production:
            raise ConfigurationError(f"{variable} must be set in production")
        path = self.data_dir / SECRETS_DIR / name
        if not path.exists():
            raise ConfigurationError(
                f"the data folder {self.data_dir} has no {name}: run 'tutela init' first"
            )
        return _decode_secret(str(path), path.read_text().strip())

    def generate_secrets(self) -> None:
        """Writes fresh secrets into the data folder, keeping any that exist.

        Raises:
            ConfigurationError: in production, where secrets are never generated.
        """
        if self.production:
            raise ConfigurationError(
                "production refuses generated secrets: set "
                + ", ".join(sorted(_SECRET_VARIABLES.values()))
            )
        folder = self.data_dir / SECRETS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        for name in _SECRET_VARIABLES:
            path = folder / name
            if not path.exists():
                path.write_text(secrets.token_hex(32) + "\n")
                path.chmod(0o600)

    def save_chain_choice(self) -> None:
        """Remembers the chain chosen at init so later commands need no ``--chain``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = {"chain_url": self.chain_url}
        (self.data_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")


def load_settings(
    data_dir: Path | None = None,
    chain_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Builds the settings from arguments, ``TUTELA_*`` variables and the data folder.

    Precedence: an argument, then the variable, then the data folder's ``config.json``.

    Raises:
        ConfigurationError: when a value is malformed.
    """
    env = os.environ if environ is None else environ
    folder = Path(data_dir or env.get("TUTELA_DATA_DIR") or DEFAULT_DATA_DIR).resolve()
    saved: dict[str, object] = {}
    config_path = folder / CONFIG_FILE
    if config_path.exists():
        try:
            saved = json.loads(config_path.read_text())
        except ValueError as error:
            raise ConfigurationError(f"{config_path} is not valid JSON") from error
    url = chain_url or env.get("TUTELA_CHAIN_URL") or saved.get("chain_url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise ConfigurationError("the chain URL must start with http:// or https://")
    database_url = env.get("TUTELA_DATABASE_URL") or f"sqlite:///{folder / 'tutela.sqlite3'}"
    return Settings(
        data_dir=folder,
        chain_url=url,
        database_url=database_url,
        production=env.get("TUTELA_ENV", "").lower() == "production",
        keystore_work_factor=_int_setting(env, "TUTELA_KEYSTORE_WORK_FACTOR", 2**14),
        admin_transfer_delay=_int_setting(env, "TUTELA_ADMIN_TRANSFER_DELAY", 86_400),
        funder_private_key=env.get("TUTELA_FUNDER_PRIVATE_KEY") or None,
        confirmations=_int_setting(env, "TUTELA_CONFIRMATIONS", 0),
        audit_anchor_interval=_int_setting(env, "TUTELA_AUDIT_ANCHOR_INTERVAL", 300),
        risk=RiskThresholds.from_environment(env),
    )


def _int_setting(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ConfigurationError(f"{name} must be a whole number") from error
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative")
    return value


def _decode_secret(source: str, value: str) -> bytes:
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError as error:
        raise ConfigurationError(f"{source} must hold 64 hexadecimal characters") from error
    if len(raw) != 32:
        raise ConfigurationError(f"{source} must hold 64 hexadecimal characters")
    return raw


def _redact_url(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
