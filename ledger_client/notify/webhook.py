"""The SMS gateway's webhook signature, the same both ways.

``X-Tutela-Signature: sha256=<hex>`` is HMAC-SHA256 over ``<timestamp>.<body>`` with the
shared key, and ``X-Tutela-Timestamp`` is the sender's clock in Unix seconds; signing the
timestamp with the body lets the receiver refuse an old message replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from ledger_client.errors import SignatureError

TIMESTAMP_HEADER: Final = "X-Tutela-Timestamp"
SIGNATURE_HEADER: Final = "X-Tutela-Signature"
DEFAULT_TOLERANCE: Final = 300
_PREFIX: Final = "sha256="


def sign_webhook(key: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Tutela-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return _PREFIX + digest.hexdigest()


def verify_webhook(
    key: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> None:
    """Accepts a webhook call signed with ``key`` within ``tolerance`` seconds of ``now``.

    This checks one call on its own; :func:`ledger_client.notify.sms.accept_webhook` also
    refuses a call received before (a replay inside the tolerance).

    Raises:
        SignatureError: the signature is missing, malformed or wrong, or the timestamp is
            not a whole number of seconds within ``tolerance`` of ``now``.
    """
    stamp = (timestamp or "").strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError("the webhook call has no valid timestamp")
    if abs(now - int(stamp)) > tolerance:
        raise SignatureError("the webhook call is too old or from the future: refused")
    expected = sign_webhook(key, stamp, body)
    given = (signature or "").strip().lower()
    # Compared in constant time, so the answer's timing says nothing about the right HMAC.
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise SignatureError("the webhook call's signature is wrong")
