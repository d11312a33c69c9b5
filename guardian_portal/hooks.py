"""What every view may need: the open Tutela, who is signed in, and the audit log."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from ledger_client.services.accounts import Principal
from ledger_client.services.audit import Actor, record_audit
from ledger_client.services.context import Tutela

TUTELA_EXTENSION = "tutela"


def tutela() -> Tutela:
    """The process's open Tutela."""
    opened: Tutela = current_app.extensions[TUTELA_EXTENSION]
    return opened


def principal() -> Principal | None:
    """Who is signed in on this request, if anyone."""
    return getattr(g, "principal", None)


def client_address() -> str:
    """The caller's address. Behind a proxy, gunicorn's ``--forwarded-allow-ips`` and
    ProxyFix decide what this is; it is never read from a header here."""
    return request.remote_addr or "unknown"


def audit(action: str, subject: str, **detail: Any) -> None:
    """Writes one audit entry for the signed-in member's read or action."""
    who = principal()
    actor = Actor(
        kind=who.kind if who else "anonymous",
        id=who.id if who else None,
        name=who.name if who else "anonymous",
        address=client_address(),
    )
    with tutela().database.transaction() as session:
        record_audit(session, actor, action, subject, detail)
