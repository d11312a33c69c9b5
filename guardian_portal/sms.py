"""The SMS gateway's inbound webhook: a guardian answers ``YES 4821 <PIN>`` by SMS.

The gateway signs each call with the shared HMAC key; an unsigned, wrongly signed or stale
call is refused before anything is read.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from guardian_portal.auth import PUBLIC, allow
from guardian_portal.extensions import csrf
from guardian_portal.hooks import tutela
from ledger_client.errors import InputError, SignatureError
from ledger_client.notify import sms

logger = logging.getLogger(__name__)

bp = Blueprint("sms", __name__, url_prefix="/sms")


@bp.post("/inbound")
@allow(PUBLIC)
@csrf.exempt
def inbound() -> tuple[Response, int]:
    opened = tutela()
    body = request.get_data(cache=True)
    try:
        sms.accept_webhook(
            opened,
            timestamp=request.headers.get("X-Tutela-Timestamp", ""),
            body=body,
            signature=request.headers.get("X-Tutela-Signature", ""),
        )
    except SignatureError:
        return jsonify({"error": "bad, stale or replayed signature"}), 403
    try:
        message = sms.parse_inbound(body)
    except InputError as error:
        return jsonify({"error": str(error)}), 400
    answer = sms.handle_sms_reply(opened, sender_phone=message.sender, text=message.text)
    return jsonify({"reply": answer.text, "outcome": answer.outcome}), 200
