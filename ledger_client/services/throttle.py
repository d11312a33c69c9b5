"""Counting tries of a secret, per account, per network address and per phone.

The counts live in the store, not in a process, so every portal worker behind a load
balancer sees the same tries; an account locked by someone guessing its password leaves
every other account alone, and one address guessing many accounts is stopped as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ledger_client.errors import TutelaError
from ledger_client.store.portal_models import LoginAttempt
from ledger_client.store.times import as_utc


class ThrottledError(TutelaError):
    """Too many tries in a short time; the message says when to try again."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


@dataclass(frozen=True)
class Limit:
    """At most ``failures`` failed tries of ``scope`` within ``window``."""

    scope: str
    failures: int
    window: timedelta


# Generous enough for a guardian who mistypes on a small keyboard, far too few for guessing.
ACCOUNT_LIMIT = Limit("account", 5, timedelta(minutes=15))
# A border post or a family may share one address: more room, still no guessing campaign.
ADDRESS_LIMIT = Limit("address", 30, timedelta(minutes=15))


def check(session: Session, limit: Limit, subject: str, now: datetime) -> None:
    """Refuses a try when ``subject`` failed ``limit.failures`` times within the window.

    Raises:
        ThrottledError: too many recent failures; the message says when to try again.
    """
    since = now - limit.window
    failures = session.scalars(
        select(LoginAttempt.at)
        .where(
            LoginAttempt.scope == limit.scope,
            LoginAttempt.subject == subject,
            LoginAttempt.at > since,
            LoginAttempt.success.is_(False),
        )
        .order_by(LoginAttempt.at)
    ).all()
    if len(failures) >= limit.failures:
        oldest = failures[-limit.failures]
        retry_at = as_utc(oldest) + limit.window
        raise ThrottledError(
            f"too many failed attempts: try again after {retry_at:%H:%M} UTC", retry_at
        )


def record(session: Session, limit: Limit, subject: str, success: bool, now: datetime) -> None:
    """Counts one try. A success does not erase failures: an attacker who knows one account
    cannot reset the count of the address they guess from."""
    session.add(LoginAttempt(scope=limit.scope, subject=subject, at=now, success=success))


def failures_since(session: Session, limit: Limit, subject: str, now: datetime) -> int:
    """How many failed tries of ``subject`` the window still holds."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.scope == limit.scope,
                LoginAttempt.subject == subject,
                LoginAttempt.at > now - limit.window,
                LoginAttempt.success.is_(False),
            )
        )
        or 0
    )


def forget_older_than(session: Session, cutoff: datetime) -> int:
    """Deletes tries older than any window, so the table stays small."""
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
