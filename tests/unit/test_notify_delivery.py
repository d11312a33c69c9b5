"""Delivery's pure parts: backoff, settings, the border desk's warning, failure classes."""

from __future__ import annotations

import smtplib
import stat
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from ledger_client.errors import ConfigurationError
from ledger_client.notify import transports
from ledger_client.notify.config import NotifyConfig, SmtpSecurity, load_notify_config
from ledger_client.notify.delivery import DeliveryView, backoff, undelivered
from ledger_client.notify.transports import DeliveryError, post_sms, send_email

SMTP = NotifyConfig(smtp_host="mail.example.md", smtp_port=2525, smtp_security=SmtpSecurity.NONE)


def test_backoff_grows_from_30_seconds_to_2_hours() -> None:
    waits = [backoff(n) for n in range(1, 8)]
    assert waits == [
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=2),
        timedelta(hours=2),
    ]


def test_the_defaults_work_without_any_variable() -> None:
    config = load_notify_config({})
    assert config == NotifyConfig()
    assert config.portal_url == "http://127.0.0.1:8080"
    assert config.smtp_host is None
    assert config.sms_webhook_url is None
    assert config.max_attempts == 6
    assert config.link("/guardian/activate") == "http://127.0.0.1:8080/guardian/activate"


def test_every_variable_is_read() -> None:
    config = load_notify_config(
        {
            "TUTELA_PORTAL_URL": "https://tutela.example.md/",
            "TUTELA_SMTP_HOST": "mail.example.md",
            "TUTELA_SMTP_SECURITY": "TLS",
            "TUTELA_SMTP_USER": "tutela",
            "TUTELA_SMTP_PASSWORD": "correct horse battery",
            "TUTELA_MAIL_FROM": "noreply@tutela.example.md",
            "TUTELA_SMS_WEBHOOK_URL": "https://sms.example.md/send",
            "TUTELA_NOTIFY_MAX_ATTEMPTS": "3",
        }
    )
    assert config.portal_url == "https://tutela.example.md"
    assert (config.smtp_security, config.smtp_port) == (SmtpSecurity.TLS, 465)
    assert (config.smtp_user, config.smtp_password) == ("tutela", "correct horse battery")
    assert config.mail_from == "noreply@tutela.example.md"
    assert config.sms_webhook_url == "https://sms.example.md/send"
    assert config.max_attempts == 3
    assert "correct horse battery" not in repr(config)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TUTELA_PORTAL_URL": "tutela.example.md"}, "TUTELA_PORTAL_URL must be an http"),
        ({"TUTELA_SMTP_SECURITY": "ssl"}, "TUTELA_SMTP_SECURITY must be starttls, tls or none"),
        ({"TUTELA_SMTP_PORT": "smtp"}, "TUTELA_SMTP_PORT must be a whole number"),
        ({"TUTELA_SMTP_PORT": "70000"}, "TUTELA_SMTP_PORT must be between 1 and 65535"),
        ({"TUTELA_SMTP_USER": "tutela"}, "TUTELA_SMTP_USER is set but TUTELA_SMTP_PASSWORD"),
        ({"TUTELA_SMTP_PASSWORD": "x"}, "TUTELA_SMTP_PASSWORD is set but TUTELA_SMTP_USER"),
        (
            {"TUTELA_SMTP_USER": "u", "TUTELA_SMTP_PASSWORD": "p", "TUTELA_SMTP_SECURITY": "none"},
            "TUTELA_SMTP_USER needs TUTELA_SMTP_SECURITY starttls or tls",
        ),
        ({"TUTELA_MAIL_FROM": "Tutela <a@b.md>"}, "TUTELA_MAIL_FROM must be one plain address"),
        ({"TUTELA_SMS_WEBHOOK_URL": "ftp://sms"}, "TUTELA_SMS_WEBHOOK_URL must be an http"),
        (
            {"TUTELA_SMS_WEBHOOK_URL": "https://user:secret@sms.example.md"},
            "TUTELA_SMS_WEBHOOK_URL must not hold a user name or password",
        ),
        ({"TUTELA_NOTIFY_MAX_ATTEMPTS": "0"}, "TUTELA_NOTIFY_MAX_ATTEMPTS must be between 1"),
    ],
)
def test_malformed_settings_are_refused_by_name(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_notify_config(environ)
    assert str(refused.value).startswith(message)
    assert "secret" not in str(refused.value)


def view(account_id: int, state: str) -> DeliveryView:
    return DeliveryView(account_id, f"guardian {account_id}", "email", state, 1, None, None)


def test_the_border_desk_is_warned_when_no_guardian_was_reached() -> None:
    assert undelivered([view(1, "failed"), view(2, "failed")]) == "no guardian was reached"
    assert undelivered([]) == "no guardian could be notified: none has contact details on record"


def test_one_channel_that_works_is_enough_to_reach_a_guardian() -> None:
    sms_failed = DeliveryView(1, "guardian 1", "sms", "failed", 1, "no SMS gateway", None)
    assert undelivered([view(1, "sent"), sms_failed]) is None
    assert undelivered([view(1, "queued"), sms_failed]) is None
    assert undelivered([sms_failed, view(2, "sent")]) == "1 of 2 guardians could not be reached"


def an_email() -> EmailMessage:
    email = EmailMessage()
    email["From"] = "tutela@localhost"
    email["To"] = "elena.rusu@example.org"
    email["Subject"] = "Tutela: test"
    email.set_content("Bună ziua")
    return email


def test_without_a_mail_server_the_email_is_written_for_the_owner_only(tmp_path: Path) -> None:
    send_email(NotifyConfig(), tmp_path, an_email(), "notification-7")
    path = tmp_path / "mail" / "notification-7.eml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    parsed = message_from_bytes(path.read_bytes(), policy=default)
    assert parsed["To"] == "elena.rusu@example.org"
    assert parsed.get_content().strip() == "Bună ziua"  # type: ignore[attr-defined]
    assert [p.name for p in path.parent.iterdir()] == ["notification-7.eml"]


class FakeSmtp:
    """Stands in for smtplib.SMTP and raises what a real server's answer would."""

    raised: BaseException | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> FakeSmtp:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def send_message(self, message: EmailMessage) -> dict[str, Any]:
        if self.raised is not None:
            raise self.raised
        return {}

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("raised", "message", "permanent"),
    [
        (
            smtplib.SMTPRecipientsRefused({"elena.rusu@example.org": (550, b"no such user")}),
            "the mail server refused the recipient",
            True,
        ),
        (
            smtplib.SMTPRecipientsRefused({"elena.rusu@example.org": (451, b"greylisted")}),
            "the mail server deferred the recipient",
            False,
        ),
        (
            smtplib.SMTPSenderRefused(553, b"relay denied", "tutela@localhost"),
            "the mail server refused the sender address",
            True,
        ),
        (smtplib.SMTPDataError(554, b"spam"), "the mail server refused the message", True),
        (smtplib.SMTPDataError(452, b"full"), "the mail server deferred the message", False),
        (smtplib.SMTPServerDisconnected("gone"), "the mail server failed", False),
        (ConnectionRefusedError(111, "refused"), "the mail server could not be reached", False),
        (TimeoutError("timed out"), "the mail server could not be reached", False),
    ],
)
def test_smtp_failures_are_told_apart_without_quoting_the_server(
    monkeypatch: pytest.MonkeyPatch, raised: BaseException, message: str, permanent: bool
) -> None:
    monkeypatch.setattr(FakeSmtp, "raised", raised)
    monkeypatch.setattr(smtplib, "SMTP", FakeSmtp)
    with pytest.raises(DeliveryError) as failed:
        send_email(SMTP, Path("/nonexistent"), an_email(), "notification-1")
    assert str(failed.value) == message
    assert failed.value.permanent is permanent
    assert "example.org" not in str(failed.value)


def test_without_a_gateway_an_sms_fails_at_once() -> None:
    with pytest.raises(DeliveryError) as failed:
        post_sms(NotifyConfig(), bytes(32), "crossing:1:1:sms", "+37369123456", "hello", 0)
    assert str(failed.value) == "no SMS gateway is configured"
    assert failed.value.permanent


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (401, True), (404, True), (429, False), (500, False)]
)
def test_gateway_answers_are_classed_by_status(status: int, permanent: bool) -> None:
    error = transports._gateway_refused(status)
    assert error.permanent is permanent
    assert f"HTTP {status}" in str(error)
