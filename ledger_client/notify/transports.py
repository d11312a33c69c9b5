"""Sending one message: SMTP (or ``.eml`` files without a mail server) and the SMS webhook.

Each failure becomes a :class:`DeliveryError` whose message is safe to show the border
officer (never an address, a number, or the server's own words, which may quote them) and
which says whether trying again can help.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Final

from ledger_client.errors import TutelaError
from ledger_client.notify.config import NotifyConfig, SmtpSecurity
from ledger_client.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_webhook

logger = logging.getLogger(__name__)

TIMEOUT: Final = 10.0
MAIL_FOLDER: Final = "mail"


class DeliveryError(TutelaError):
    """A message could not be delivered; ``permanent`` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def send_email(config: NotifyConfig, data_dir: Path, message: EmailMessage, name: str) -> None:
    """Hands ``message`` to the mail server, or writes it to ``<data_dir>/mail/<name>.eml``
    when no server is configured (the embedded default).

    Raises:
        DeliveryError: the server refused or could not be reached.
    """
    if config.smtp_host is None:
        _write_eml(data_dir / MAIL_FOLDER, message, name)
        return
    try:
        with _connect(config) as server:
            if config.smtp_user is not None and config.smtp_password is not None:
                server.login(config.smtp_user, config.smtp_password)
            server.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        permanent = any(code >= 500 for code in codes)
        raise DeliveryError(
            "the mail server refused the recipient"
            if permanent
            else "the mail server deferred the recipient",
            permanent=permanent,
        ) from None
    except smtplib.SMTPSenderRefused as error:
        raise _refused("the sender address", error.smtp_code) from None
    except smtplib.SMTPDataError as error:
        raise _refused("the message", error.smtp_code) from None
    except smtplib.SMTPAuthenticationError:
        # A configuration fault: retried, so that fixing the password lets the queue drain.
        raise DeliveryError("the mail server refused Tutela's login", permanent=False) from None
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError("the mail server does not offer STARTTLS", permanent=False) from None
    except ssl.SSLError:
        raise DeliveryError(
            "the secure connection to the mail server failed", permanent=False
        ) from None
    except smtplib.SMTPException:
        raise DeliveryError("the mail server failed", permanent=False) from None
    except OSError:
        # Refused connections, timeouts and name lookups; smtplib's errors are OSErrors too,
        # so this comes last.
        raise DeliveryError("the mail server could not be reached", permanent=False) from None


def post_sms(
    config: NotifyConfig, key: bytes, message_id: str, to: str, text: str, timestamp: int
) -> None:
    """POSTs ``{"id", "to", "text"}`` to the SMS gateway, signed with ``key``.

    ``message_id`` stays the same on every retry, so the gateway can drop a duplicate.

    Raises:
        DeliveryError: no gateway is configured, or it refused or could not be reached.
    """
    if config.sms_webhook_url is None:
        raise DeliveryError("no SMS gateway is configured", permanent=True)
    body = json.dumps({"id": message_id, "to": to, "text": text}, ensure_ascii=False).encode()
    stamp = str(timestamp)
    request = urllib.request.Request(  # noqa: S310 - the URL is checked to be http(s)
        config.sms_webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Tutela",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign_webhook(key, stamp, body),
        },
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            response.read()
    except urllib.error.HTTPError as error:
        error.close()
        raise _gateway_refused(error.code) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError):
        raise DeliveryError("the SMS gateway could not be reached", permanent=False) from None


def _connect(config: NotifyConfig) -> smtplib.SMTP:
    assert config.smtp_host is not None
    context = ssl.create_default_context()
    if config.smtp_security is SmtpSecurity.TLS:
        return smtplib.SMTP_SSL(
            config.smtp_host, config.smtp_port, timeout=TIMEOUT, context=context
        )
    server = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=TIMEOUT)
    try:
        if config.smtp_security is SmtpSecurity.STARTTLS:
            server.starttls(context=context)
    except BaseException:
        server.close()
        raise
    return server


def _refused(what: str, code: int) -> DeliveryError:
    if code >= 500:
        return DeliveryError(f"the mail server refused {what}", permanent=True)
    return DeliveryError(f"the mail server deferred {what}", permanent=False)


def _gateway_refused(status: int) -> DeliveryError:
    if status == 429 or status >= 500:
        return DeliveryError(f"the SMS gateway is unavailable (HTTP {status})", permanent=False)
    if 300 <= status < 400:
        return DeliveryError(
            f"the SMS gateway answered with a redirect (HTTP {status})", permanent=True
        )
    return DeliveryError(f"the SMS gateway refused the message (HTTP {status})", permanent=True)


def _write_eml(folder: Path, message: EmailMessage, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / f"{name}.eml"
    temporary = folder / f".{name}.eml.tmp"
    # The message holds personal data (and maybe an activation code): owner only.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(message.as_bytes())
    temporary.replace(path)
    logger.info("no TUTELA_SMTP_HOST: e-mail written to %s", path)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error: following it would resend a signed body elsewhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER: Final = urllib.request.build_opener(_NoRedirects)
