"""Fills the investigators' look-ups (migration 0008) on rows written before them.

A migration holds no master key, so it cannot open sealed rows: this runs at ``tutela
investigate backfill`` and at ``serve``/``worker`` start. Each batch is its own transaction,
and rows are walked by key, so a crash loses at most a batch and a row that cannot be opened
is reported and passed over rather than retried forever. When nothing is missing it is
three indexed queries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any, Final

from sqlalchemy import or_, select

from ledger_client.errors import CryptoError
from ledger_client.identity import (
    birth_date_lookup,
    child_name_lookup,
    companion_name_lookup,
    guardian_name_lookup,
)
from ledger_client.services.children import child_data, guardian_payload
from ledger_client.services.context import Tutela
from ledger_client.services.crossings import open_companion
from ledger_client.store.models import Child, CrossingRequest, Guardian

logger = logging.getLogger(__name__)

BATCH: Final = 500


def backfill_lookups(tutela: Tutela, *, batch: int = BATCH) -> int:
    """Opens the sealed rows whose look-ups are missing and fills them; returns how many.

    Rows that cannot be opened (a wrong key, a damaged record) are logged by id and left
    NULL: they stay out of name searches until repaired.
    """
    key = tutela.commitment_key

    def child(row: Child) -> None:
        data = child_data(tutela, row)
        row.name_lookup = child_name_lookup(key, data["given_name"], data["family_name"])
        row.birth_lookup = birth_date_lookup(key, date.fromisoformat(data["birth_date"]))

    def guardian(row: Guardian) -> None:
        row.name_lookup = guardian_name_lookup(key, str(guardian_payload(tutela, row)["name"]))

    def request(row: CrossingRequest) -> None:
        row.companion_name_lookup = companion_name_lookup(key, open_companion(tutela, row)["name"])

    filled = _fill(
        tutela,
        Child,
        Child.child_id,
        or_(Child.name_lookup.is_(None), Child.birth_lookup.is_(None)),
        child,
        batch,
    )
    filled += _fill(tutela, Guardian, Guardian.id, Guardian.name_lookup.is_(None), guardian, batch)
    filled += _fill(
        tutela,
        CrossingRequest,
        CrossingRequest.id,
        CrossingRequest.companion_name_lookup.is_(None),
        request,
        batch,
    )
    if filled:
        logger.info("investigation look-ups filled on %d rows", filled)
    return filled


def _fill(
    tutela: Tutela,
    model: Any,
    order: Any,
    missing: Any,
    fill: Callable[[Any], None],
    batch: int,
) -> int:
    filled = 0
    after: Any = None
    while True:
        with tutela.database.transaction() as session:
            query = select(model).where(missing).order_by(order).limit(batch)
            if after is not None:
                query = query.where(order > after)
            rows = list(session.scalars(query))
            for row in rows:
                try:
                    fill(row)
                    filled += 1
                except CryptoError:
                    logger.warning(
                        "%s row %s cannot be opened: its look-ups stay empty",
                        model.__tablename__,
                        getattr(row, order.key),
                    )
            if rows:
                after = getattr(rows[-1], order.key)
        if len(rows) < batch:
            return filled
