"""Guardians are told of a crossing request by e-mail and SMS, and answer by SMS.

Real parts throughout: the embedded chain, an SMTP server (aiosmtpd) and an HTTP server
standing in for the SMS gateway, both on the loopback interface.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, select

from ledger_client.errors import SignatureError
from ledger_client.identity import normalise_document
from ledger_client.notify.delivery import deliver_due, delivery_status, undelivered
from ledger_client.notify.enqueue import enqueue_activation_notice, notify_guardians_of
from ledger_client.notify.models import Notification
from ledger_client.notify.sms import accept_webhook, handle_sms_reply
from ledger_client.notify.webhook import sign_webhook, verify_webhook
from ledger_client.notify.worker import follow_notifications
from ledger_client.services import children, crossings, guardians
from ledger_client.services.context import Tutela
from ledger_client.settings import SMS_WEBHOOK_KEY
from ledger_client.store.models import CrossingRequest
from ledger_client.store.portal_models import GuardianAccount, LoginAttempt
from tests.conftest import World, _world, make_settings
from tests.support.postgres import free_port

PORTAL = "https://tutela.example.md"
MOTHER_PHONE = "+37369123456"
MOTHER = f"Elena Rusu;MD-0877-1290;elena.rusu@example.org;{MOTHER_PHONE}"
FATHER = "Ion Rusu;MD-1234-5678;ion.rusu@example.org"
PASSWORD = "a long passphrase for the portal"
PIN = "246810"
WRONG_PIN = "135792"


class Mailbox:
    """An aiosmtpd handler that keeps every message and refuses the addresses it is told to."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self.refused: set[str] = set()
        self._lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.messages.append(parsed)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class Gateway:
    """An HTTP server standing in for the SMS gateway: records calls, answers as scripted."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.calls.append((dict(self.headers.items()), body))
                status = gateway.answers.pop(0) if gateway.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def texts(self) -> list[dict[str, str]]:
        return [json.loads(body) for _, body in self.calls]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    handler = Mailbox(free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    fake = Gateway()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join()


@pytest.fixture
def routes(mailbox: Mailbox, gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Points notifications at the listeners, as an operator would with variables."""
    monkeypatch.setenv("TUTELA_PORTAL_URL", PORTAL)
    monkeypatch.setenv("TUTELA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TUTELA_SMTP_PORT", str(mailbox.port))
    monkeypatch.setenv("TUTELA_SMTP_SECURITY", "none")
    monkeypatch.setenv("TUTELA_SMS_WEBHOOK_URL", gateway.url)


@pytest.fixture
def tutela(embedded_world: World) -> Tutela:
    return embedded_world.tutela


def enrol(tutela: Tutela, *specs: str) -> children.ChildView:
    return children.enrol_child(
        tutela,
        given_name="Ana",
        family_name="Rusu",
        birth_date="2017-03-02",
        birth_place="Bălți",
        guardian_specs=list(specs),
    )


def request(tutela: Tutela, card: str, companion: str = "Vasile Ceban") -> int:
    view = crossings.request_crossing(
        tutela,
        card,
        direction="exit",
        border_point="MD-LEUSENI",
        companion_name=companion,
        companion_document="MD-5555-0001",
    )
    return view.request


def activate(tutela: Tutela, child: children.ChildView, document: str) -> None:
    (code,) = [c for c in child.activation_codes if c.document == normalise_document(document)]
    guardians.activate_guardian(
        tutela, document=document, code=code.code, password=PASSWORD, pin=PIN
    )


def flush_activation_mail(tutela: Tutela, mailbox: Mailbox) -> None:
    """Sends whatever enrolment queued (activation codes), so a test sees only its own."""
    deliver_due(tutela)
    mailbox.messages.clear()


# ---- telling the guardians -------------------------------------------------------------------


@pytest.mark.usefixtures("routes")
def test_a_confirmed_request_emails_each_guardian_and_texts_each_phone(
    tutela: Tutela, mailbox: Mailbox, gateway: Gateway
) -> None:
    child = enrol(tutela, MOTHER, FATHER)
    flush_activation_mail(tutela, mailbox)
    number = request(tutela, child.card)

    report = deliver_due(tutela)

    assert (report.sent, report.retrying, report.failed) == (3, 0, 0)
    link = f"{PORTAL}/guardian/requests/{number}"
    for address, name in (
        ("elena.rusu@example.org", "Elena Rusu"),
        ("ion.rusu@example.org", "Ion Rusu"),
    ):
        (mail,) = mailbox.to(address)
        assert mail["To"].addresses[0].display_name == name
        assert str(number) in mail["Subject"]
        body = mail.get_content()
        assert link in body
        for shown in (name, "Ana", "MD-LEUSENI", "Vasile Ceban"):
            assert shown in body
        assert "{" not in body
    # Only the mother has a phone; the e-mail tells her she may answer by SMS.
    assert f"DA {number}" in mailbox.to("elena.rusu@example.org")[0].get_content()
    assert f"DA {number}" not in mailbox.to("ion.rusu@example.org")[0].get_content()
    ((headers, body),) = gateway.calls
    verify_webhook(
        tutela.settings.secret(SMS_WEBHOOK_KEY),
        headers["X-Tutela-Timestamp"],
        body,
        headers["X-Tutela-Signature"],
        tutela.clock(),
    )
    sms = json.loads(body)
    assert sms["to"] == MOTHER_PHONE
    assert sms["text"] == (
        f"Tutela: Ana pleaca din tara prin MD-LEUSENI cu Vasile Ceban. "
        f"Raspundeti DA {number} <PIN> sau NU {number} <PIN>"
    )
    views = delivery_status(tutela, number)
    assert sorted((v.guardian_name, v.channel, v.state) for v in views) == [
        ("Elena Rusu", "email", "sent"),
        ("Elena Rusu", "sms", "sent"),
        ("Ion Rusu", "email", "sent"),
    ]
    assert all(v.attempts == 1 and v.last_error is None and v.sent_at for v in views)
    assert undelivered(views) is None
    # A second pass sends nothing again.
    assert not deliver_due(tutela)
    assert len(mailbox.messages) == 2
    assert len(gateway.calls) == 1


@pytest.mark.usefixtures("routes")
def test_a_confirmation_applied_twice_queues_nothing_more(tutela: Tutela, mailbox: Mailbox) -> None:
    child = enrol(tutela, MOTHER, FATHER)
    flush_activation_mail(tutela, mailbox)
    number = request(tutela, child.card)
    with tutela.database.transaction() as session:
        key = session.scalar(
            select(CrossingRequest.action_key).where(CrossingRequest.request_id == number)
        )
        assert key is not None
        # What a reorganisation does: the chain confirms the same request a second time.
        assert notify_guardians_of(session, key, number) == 0
        queued = session.scalar(
            select(func.count()).select_from(Notification).where(Notification.request_id == number)
        )
    assert queued == 3
    assert deliver_due(tutela).sent == 3


@pytest.mark.usefixtures("routes")
def test_a_gateway_error_is_retried_after_a_backoff_and_then_delivered(
    tutela: Tutela, mailbox: Mailbox, gateway: Gateway
) -> None:
    child = enrol(tutela, MOTHER)
    flush_activation_mail(tutela, mailbox)
    number = request(tutela, child.card)
    gateway.answers = [500]
    start = datetime.now(UTC)

    first = deliver_due(tutela, now=start)

    assert (first.sent, first.retrying) == (1, 1)
    (sms,) = [v for v in delivery_status(tutela, number) if v.channel == "sms"]
    assert (sms.state, sms.attempts) == ("queued", 1)
    assert sms.last_error == "the SMS gateway is unavailable (HTTP 500)"
    # Not before its 30 seconds are up.
    assert not deliver_due(tutela, now=start + timedelta(seconds=20))
    second = deliver_due(tutela, now=start + timedelta(seconds=31))
    assert second.sent == 1
    (sms,) = [v for v in delivery_status(tutela, number) if v.channel == "sms"]
    assert (sms.state, sms.attempts, sms.last_error) == ("sent", 2, None)
    # The same message id both times, so a gateway can drop a duplicate.
    first_id, second_id = (text["id"] for text in gateway.texts())
    assert first_id == second_id


@pytest.mark.usefixtures("routes")
def test_a_refused_recipient_fails_at_once_and_the_border_desk_sees_it(
    tutela: Tutela, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = enrol(tutela, MOTHER, FATHER)
    flush_activation_mail(tutela, mailbox)
    mailbox.refused = {"elena.rusu@example.org", "ion.rusu@example.org"}
    monkeypatch.delenv("TUTELA_SMS_WEBHOOK_URL")
    number = request(tutela, child.card)

    report = deliver_due(tutela)

    assert (report.sent, report.failed) == (0, 3)
    views = delivery_status(tutela, number)
    assert sorted(
        (v.guardian_name, v.channel, v.state, v.attempts, v.last_error) for v in views
    ) == [
        ("Elena Rusu", "email", "failed", 1, "the mail server refused the recipient"),
        ("Elena Rusu", "sms", "failed", 1, "no SMS gateway is configured"),
        ("Ion Rusu", "email", "failed", 1, "the mail server refused the recipient"),
    ]
    assert undelivered(views) == "no guardian was reached"
    assert mailbox.messages == []


@pytest.mark.usefixtures("routes")
def test_the_activation_code_is_mailed_once_and_then_erased(
    tutela: Tutela, mailbox: Mailbox
) -> None:
    child = enrol(tutela, FATHER)
    flush_activation_mail(tutela, mailbox)
    (code,) = child.activation_codes
    with tutela.database.transaction() as session:
        account = session.scalar(select(GuardianAccount))
        assert account is not None
        enqueue_activation_notice(
            session, tutela.master_key, account.id, code.code, datetime.now(UTC)
        )

    assert deliver_due(tutela).sent == 1

    (mail,) = mailbox.to("ion.rusu@example.org")
    body = mail.get_content()
    assert code.code in body
    assert f"{PORTAL}/guardian/activate" in body
    assert datetime.fromisoformat(code.expires_at).strftime("%Y-%m-%d %H:%M UTC") in body
    with tutela.database.reading() as session:
        rows = session.scalars(select(Notification).where(Notification.kind == "activation")).all()
    # Sent, and the sealed code is gone from the store.
    assert rows
    assert {(row.state, row.payload_sealed) for row in rows} == {("sent", None)}


def test_without_a_mail_server_emails_are_written_to_the_data_folder(tutela: Tutela) -> None:
    child = enrol(tutela, FATHER)
    number = request(tutela, child.card)

    deliver_due(tutela)

    folder = tutela.settings.data_dir / "mail"
    bodies = [
        message_from_bytes(path.read_bytes(), policy=policy.default) for path in folder.iterdir()
    ]
    links = [
        b.get_content()
        for b in bodies
        if isinstance(b, EmailMessage) and str(number) in b["Subject"]
    ]
    assert len(links) == 1
    assert f"http://127.0.0.1:8080/guardian/requests/{number}" in links[0]


@pytest.mark.usefixtures("routes")
def test_the_notifier_loop_delivers_until_stopped(tutela: Tutela, mailbox: Mailbox) -> None:
    child = enrol(tutela, FATHER)
    number = request(tutela, child.card)
    stop = threading.Event()
    loop = threading.Thread(target=follow_notifications, args=(tutela, stop, 0.05))
    loop.start()
    try:
        for _ in range(200):
            if any(str(number) in str(m["Subject"]) for m in mailbox.messages):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()
    assert [v.state for v in delivery_status(tutela, number)] == ["sent"]


@pytest.fixture
def store_world(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    monkeypatch.setenv("TUTELA_DATABASE_URL", database_url)
    yield from _world(make_settings(tmp_path / "data", None, monkeypatch))


@pytest.mark.usefixtures("routes")
def test_two_workers_racing_send_each_message_once(store_world: World, mailbox: Mailbox) -> None:
    tutela = store_world.tutela
    child = enrol(tutela, MOTHER, FATHER)
    flush_activation_mail(tutela, mailbox)
    with tutela.database.transaction() as session:
        accounts = session.scalars(select(GuardianAccount.id)).all()
        for account_id in accounts:
            for code in child.activation_codes * 6:
                enqueue_activation_notice(
                    session, tutela.master_key, account_id, code.code, datetime.now(UTC)
                )
    queued = len(accounts) * len(child.activation_codes) * 6
    barrier = threading.Barrier(2)
    reports = []

    def worker() -> None:
        barrier.wait()
        reports.append(deliver_due(tutela, limit=queued))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.sent for r in reports) == queued
    assert len(mailbox.messages) == queued
    ids = [m["Message-ID"] for m in mailbox.messages]
    assert len(set(ids)) == queued


# ---- answering by SMS ------------------------------------------------------------------------


def reply(
    tutela: Tutela, text: str, *, now: datetime | None = None, phone: str = "069 123 456"
) -> Any:
    return handle_sms_reply(tutela, sender_phone=phone, text=text, now=now)


def test_a_guardian_approves_by_sms_with_the_right_pin(
    tutela: Tutela, caplog: pytest.LogCaptureFixture
) -> None:
    child = enrol(tutela, MOTHER, FATHER)
    activate(tutela, child, "MD-0877-1290")
    number = request(tutela, child.card)
    caplog.set_level("INFO")

    answer = reply(tutela, f"da {number} {PIN}")

    assert answer.outcome == "approved"
    assert answer.text == f"Tutela: aprobarea cererii {number} a fost inregistrata."
    assert crossings.show_crossing(tutela, number).status == "approved"
    # The reply is logged by request and outcome, never by PIN or phone.
    assert f"SMS reply to request {number}: approved" in caplog.text
    for secret in (PIN, "069 123 456", MOTHER_PHONE, "37369123456"):
        assert secret not in caplog.text
    with tutela.database.reading() as session:
        log = session.execute(select(LoginAttempt.scope, LoginAttempt.success)).all()
    assert [tuple(row) for row in log if row[0] == "sms"] == [("sms", True)]


def test_a_wrong_pin_is_refused_and_nothing_is_decided(tutela: Tutela) -> None:
    child = enrol(tutela, MOTHER)
    number = request(tutela, child.card)
    before = reply(tutela, f"YES {number} {PIN}")
    activate(tutela, child, "MD-0877-1290")

    answer = reply(tutela, f"YES {number} {WRONG_PIN}")

    # Without a PIN chosen yet, the guardian is told to activate first.
    assert before.outcome == "not-activated"

    assert answer.outcome == "wrong-pin"
    assert answer.text == "Tutela: cod PIN gresit. Nu s-a inregistrat nimic."
    assert crossings.show_crossing(tutela, number).status == "pending"


def test_three_wrong_pins_block_the_phone_for_15_minutes(tutela: Tutela) -> None:
    child = enrol(tutela, MOTHER)
    activate(tutela, child, "MD-0877-1290")
    number = request(tutela, child.card)
    start = datetime.now(UTC)

    wrong = [reply(tutela, f"YES {number} {WRONG_PIN}", now=start).outcome for _ in range(3)]
    # A fourth try is refused before the PIN is even looked at: the right one too.
    blocked = reply(tutela, f"YES {number} {PIN}", now=start + timedelta(minutes=1))

    assert wrong == ["wrong-pin"] * 3
    assert blocked.outcome == "too-many-wrong-pins"
    assert crossings.show_crossing(tutela, number).status == "pending"
    assert reply(tutela, f"YES {number} {PIN}", now=start + timedelta(minutes=16)).outcome == (
        "approved"
    )


def test_a_sixth_reply_within_15_minutes_is_refused(tutela: Tutela) -> None:
    child = enrol(tutela, MOTHER)
    activate(tutela, child, "MD-0877-1290")
    number = request(tutela, child.card)
    start = datetime.now(UTC)

    replies = [reply(tutela, "yes please", now=start + timedelta(minutes=n)) for n in range(5)]
    sixth = reply(tutela, f"YES {number} {PIN}", now=start + timedelta(minutes=5))

    assert [r.outcome for r in replies] == ["malformed"] * 5
    assert replies[0].text == "Tutela: raspundeti DA <numar> <PIN> sau NU <numar> <PIN>."
    assert sixth.outcome == "too-many-replies"
    assert sixth.text == "Tutela: prea multe raspunsuri, incercati din nou peste 15 minute."
    assert crossings.show_crossing(tutela, number).status == "pending"
    # The window slides: once the first reply is 15 minutes old, there is room again.
    assert reply(tutela, f"YES {number} {PIN}", now=start + timedelta(minutes=16)).outcome == (
        "approved"
    )


def test_answers_to_unknown_requests_and_closed_ones_are_plain(tutela: Tutela) -> None:
    child = enrol(tutela, MOTHER, FATHER)
    activate(tutela, child, "MD-0877-1290")
    number = request(tutela, child.card)
    crossings.decide_as_protection(tutela, str(number), approve=False)

    closed = reply(tutela, f"NO {number} {PIN}")
    unknown = reply(tutela, f"NO {number + 100} {PIN}")
    stranger = reply(tutela, f"NO {number} {PIN}", phone="+37379000000")

    assert (closed.outcome, closed.text) == (
        "not-pending",
        f"Tutela: cererea {number} nu mai asteapta raspuns.",
    )
    assert (unknown.outcome, unknown.text) == (
        "unknown-request",
        f"Tutela: cererea {number + 100} nu exista.",
    )
    # A phone nobody registered learns nothing more than a wrong request number would.
    assert stranger.outcome == "unknown-sender"
    assert stranger.text == f"Tutela: cererea {number} nu exista."


def test_the_webhook_refuses_a_bad_signature_and_a_replay(tutela: Tutela) -> None:
    key = tutela.settings.secret(SMS_WEBHOOK_KEY)
    body = json.dumps({"from": MOTHER_PHONE, "text": f"YES 1 {PIN}"}).encode()
    stamp = str(int(tutela.clock()))
    signature = sign_webhook(key, stamp, body)

    with pytest.raises(SignatureError):
        accept_webhook(
            tutela, timestamp=stamp, body=body, signature=sign_webhook(bytes(32), stamp, body)
        )
    with pytest.raises(SignatureError):
        accept_webhook(
            tutela, timestamp=stamp, body=body.replace(b"YES", b"NO "), signature=signature
        )
    accept_webhook(tutela, timestamp=stamp, body=body, signature=signature)
    with pytest.raises(SignatureError) as replayed:
        accept_webhook(tutela, timestamp=stamp, body=body, signature=signature)
    assert str(replayed.value) == "this webhook call was received before: refused as a replay"
