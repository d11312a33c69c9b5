"""The SMS gateway's webhook: a guardian without a smartphone answers ``YES n PIN``."""

from __future__ import annotations

import json
import time

from ledger_client.identity import normalise_document
from ledger_client.notify.webhook import sign_webhook
from ledger_client.services import crossings, guardians
from ledger_client.settings import SMS_WEBHOOK_KEY
from tests.portal.conftest import Portal
from tests.portal.support import enrol, request_exit

PASSWORD = "a-long-guardian-password"
PIN = "482915"
MOTHER = "Elena Rusu;MD-0877-1290;elena@example.org;069 123 456"


def _pending_request(portal: Portal) -> int:
    tutela = portal.tutela
    child = enrol(tutela, MOTHER)
    (code,) = child.activation_codes
    guardians.activate_guardian(
        tutela,
        document=normalise_document("MD-0877-1290"),
        code=code.code,
        password=PASSWORD,
        pin=PIN,
    )
    return request_exit(tutela, child.card)


def _post(portal: Portal, payload: dict[str, str], *, key: bytes | None = None):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    signature = sign_webhook(key or portal.tutela.settings.secret(SMS_WEBHOOK_KEY), stamp, body)
    headers = {"X-Tutela-Timestamp": stamp, "X-Tutela-Signature": signature}
    client = portal.client()
    return client.post(
        "/sms/inbound", data=body, headers=headers, content_type="application/json"
    ), (body, headers)


def test_a_signed_yes_with_the_right_pin_approves_and_a_replay_is_refused(portal: Portal) -> None:
    number = _pending_request(portal)
    response, (body, headers) = _post(
        portal, {"from": "+373 69 123 456", "text": f"yes {number} {PIN}"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert crossings.show_crossing(portal.tutela, number).status == "approved"
    replay = portal.client().post(
        "/sms/inbound", data=body, headers=headers, content_type="application/json"
    )
    assert replay.status_code == 403


def test_an_unsigned_or_wrongly_signed_call_changes_nothing(portal: Portal) -> None:
    number = _pending_request(portal)
    text = {"from": "+37369123456", "text": f"YES {number} {PIN}"}
    unsigned = portal.client().post("/sms/inbound", json=text)
    assert unsigned.status_code == 403
    forged, _ = _post(portal, text, key=b"\x01" * 32)
    assert forged.status_code == 403
    assert crossings.show_crossing(portal.tutela, number).status == "pending"


def test_a_wrong_pin_gets_an_answer_and_decides_nothing(portal: Portal) -> None:
    number = _pending_request(portal)
    response, _ = _post(portal, {"from": "+37369123456", "text": f"NO {number} 111119"})
    assert response.status_code == 200
    assert response.get_json()["outcome"] != "decided"
    assert crossings.show_crossing(portal.tutela, number).status == "pending"


def test_a_malformed_body_is_a_clear_400(portal: Portal) -> None:
    response, _ = _post(portal, {"text": "YES"})
    assert response.status_code == 400
    assert "from" in response.get_json()["error"] or "JSON" in response.get_json()["error"]
