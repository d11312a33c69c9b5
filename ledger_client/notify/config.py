"""Where notifications go: the portal's address for links, the mail server, the SMS gateway.

Loaded from ``TUTELA_*`` variables. With none set, the embedded default still works: e-mails
are written as ``.eml`` files into the data folder, and SMS fail at once with a reason the
border officer sees, rather than waiting for a gateway that does not exist.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from ledger_client.errors import ConfigurationError

DEFAULT_PORTAL_URL = "http://127.0.0.1:8080"
DEFAULT_MAIL_FROM = "tutela@localhost"
DEFAULT_MAX_ATTEMPTS = 6


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


_DEFAULT_PORTS = {SmtpSecurity.STARTTLS: 587, SmtpSecurity.TLS: 465, SmtpSecurity.NONE: 25}


@dataclass(frozen=True)
class NotifyConfig:
    """The notification settings; ``smtp_password`` never appears in ``repr``."""

    portal_url: str = DEFAULT_PORTAL_URL
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    mail_from: str = DEFAULT_MAIL_FROM
    sms_webhook_url: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def link(self, path: str) -> str:
        """An absolute link into the portal."""
        return self.portal_url + path


def load_notify_config(environ: Mapping[str, str] | None = None) -> NotifyConfig:
    """Reads the notification settings from ``TUTELA_*`` variables.

    Raises:
        ConfigurationError: a value is malformed; the message names the variable.
    """
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    portal_url = _url("TUTELA_PORTAL_URL", get("TUTELA_PORTAL_URL") or DEFAULT_PORTAL_URL)
    raw_security = (get("TUTELA_SMTP_SECURITY") or SmtpSecurity.STARTTLS).lower()
    try:
        security = SmtpSecurity(raw_security)
    except ValueError:
        raise ConfigurationError("TUTELA_SMTP_SECURITY must be starttls, tls or none") from None
    host = get("TUTELA_SMTP_HOST")
    user = get("TUTELA_SMTP_USER")
    # A password may rightly begin or end with a space: read it as it is.
    password = env.get("TUTELA_SMTP_PASSWORD") or None
    if password is not None and user is None:
        raise ConfigurationError("TUTELA_SMTP_PASSWORD is set but TUTELA_SMTP_USER is not")
    if user is not None and password is None:
        raise ConfigurationError("TUTELA_SMTP_USER is set but TUTELA_SMTP_PASSWORD is not")
    if user is not None and security is SmtpSecurity.NONE:
        # The password would cross the network in clear.
        raise ConfigurationError(
            "TUTELA_SMTP_USER needs TUTELA_SMTP_SECURITY starttls or tls, not none"
        )
    mail_from = get("TUTELA_MAIL_FROM") or DEFAULT_MAIL_FROM
    local, _, domain = mail_from.rpartition("@")
    if not local or not domain or any(c.isspace() or c in '<>",' for c in mail_from):
        raise ConfigurationError("TUTELA_MAIL_FROM must be one plain address such as a@b.org")
    webhook = get("TUTELA_SMS_WEBHOOK_URL")
    return NotifyConfig(
        portal_url=portal_url,
        smtp_host=host,
        smtp_port=_int("TUTELA_SMTP_PORT", get("TUTELA_SMTP_PORT"), _DEFAULT_PORTS[security]),
        smtp_security=security,
        smtp_user=user,
        smtp_password=password,
        mail_from=mail_from,
        sms_webhook_url=None if webhook is None else _url("TUTELA_SMS_WEBHOOK_URL", webhook),
        max_attempts=_int("TUTELA_NOTIFY_MAX_ATTEMPTS", get("TUTELA_NOTIFY_MAX_ATTEMPTS"), 6),
    )


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{name} must be an http:// or https:// address")
    if parts.username or parts.password:
        # It would be printed in links and logs.
        raise ConfigurationError(f"{name} must not hold a user name or password")
    return value.rstrip("/")


def _int(name: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number") from None
    limits = (1, 65535) if name == "TUTELA_SMTP_PORT" else (1, 100)
    if not limits[0] <= value <= limits[1]:
        raise ConfigurationError(f"{name} must be between {limits[0]} and {limits[1]}")
    return value
