"""Times read back from the store."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC time.

    SQLite hands back naive datetimes for ``DateTime(timezone=True)`` columns; Tutela stores
    every time in UTC, so a naive one is UTC.
    """
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
