"""A guardian's e-mails come in the language they activated their account in."""

from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import select

from ledger_client.notify.delivery import deliver_due
from ledger_client.services import guardians
from ledger_client.store.portal_models import GuardianAccount
from tests.portal.conftest import Portal
from tests.portal.support import enrol, request_exit, submit

PASSWORD = "a-long-guardian-password"


def test_a_guardian_who_activates_in_russian_is_written_to_in_russian(portal: Portal) -> None:
    tutela = portal.tutela
    child = enrol(tutela, "Elena Rusu;MD-0877-1290;elena@example.org")
    (code,) = child.activation_codes
    client = portal.client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru-RU,ru;q=0.9"
    answer = submit(
        client,
        "/guardian/activate",
        {
            "document": "MD-0877-1290",
            "code": code.code,
            "password": PASSWORD,
            "password_again": PASSWORD,
            "pin": "482915",
            "pin_again": "482915",
        },
    )
    assert answer.status_code == 303
    assert guardians.guardian_account(tutela, _only_account_id(portal)).language == "ru"
    deliver_due(tutela)  # the activation e-mail, written before the language was known
    mail = tutela.settings.data_dir / "mail"
    before = set(mail.glob("*.eml"))
    request = request_exit(tutela, child.card)
    deliver_due(tutela)
    (new,) = set(mail.glob("*.eml")) - before
    message = message_from_bytes(new.read_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert f"/guardian/requests/{request}" in text
    assert f"Номер запроса: {request}" in text
    assert "требуется ваше решение" in str(message["Subject"])


def _only_account_id(portal: Portal) -> int:
    with portal.tutela.database.reading() as session:
        return int(session.scalars(select(GuardianAccount.id)).one())
