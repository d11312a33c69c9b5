"""Read models the registry and border desks need that the other services do not give.

* :func:`similar_children`: the registry desk warns (it does not refuse) when a child with
  the same names and birth date is registered already, born elsewhere or not; the store
  finds them through a keyed look-up column without opening any sealed record.
* :func:`delivery_report`: whether the guardians were told of a crossing request, for the
  border officer waiting for them, summed up per guardian.
* :func:`seconds_left`: how long a request stays open, by the chain's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from ledger_client.cards import format_card
from ledger_client.contracts.types import ChildStatus
from ledger_client.errors import InputError
from ledger_client.identity import name_birth_lookup
from ledger_client.notify.delivery import DeliveryView, delivery_status
from ledger_client.notify.models import NoticeState
from ledger_client.services.context import Tutela
from ledger_client.store.models import Child

__all__ = [
    "DeliveryReport",
    "delivery_report",
    "seconds_left",
    "similar_children",
]

# Its own domain, so that a look-up can never equal a child or document commitment.


def similar_children(
    tutela: Tutela, given_name: str, family_name: str, birth_date: str
) -> list[str]:
    """Return the cards of the active children with these names and this birth date.

    Records enrolled before the look-up column existed are not found.

    Args:
        tutela: The open Tutela.
        given_name: As typed on the enrolment form.
        family_name: As typed on the enrolment form.
        birth_date: ``YYYY-MM-DD``.

    Returns:
        Card numbers grouped for reading (``1234-5678-90``), in card order.

    Raises:
        InputError: the birth date is not ``YYYY-MM-DD``.
    """
    try:
        born = date.fromisoformat(birth_date.strip())
    except ValueError:
        raise InputError("birth date must be written YYYY-MM-DD") from None
    lookup = name_birth_lookup(tutela.commitment_key, given_name, family_name, born)
    with tutela.database.reading() as session:
        cards = session.scalars(
            select(Child.card_number)
            .where(Child.name_birth_lookup == lookup, Child.status == ChildStatus.ACTIVE)
            .order_by(Child.card_number)
        ).all()
    return [format_card(card) for card in cards]


def seconds_left(tutela: Tutela, expires_at: str) -> int:
    """Return how many seconds remain until ``expires_at`` (ISO 8601), by the chain's clock.

    The chain decides when a request expires, and its clock may run ahead of the wall
    clock, so it is the one asked.

    Raises:
        InputError: ``expires_at`` is not an ISO 8601 date and time.
        ChainUnavailableError: the node cannot be reached.
    """
    try:
        deadline = datetime.fromisoformat(expires_at).timestamp()
    except ValueError:
        raise InputError("the expiry time is not a date and time") from None
    return max(0, int(deadline) - tutela.read_time())


@dataclass(frozen=True)
class DeliveryReport:
    """What the border officer needs to know about the guardians' notifications.

    Attributes:
        deliveries: Every message of the request, by guardian and channel.
        guardians: How many guardians were to be told.
        unreached: How many of them no message can reach any more (all theirs failed).
        nobody_reached: No message can reach anyone: none was queued (no guardian has
            contact details on record), or every guardian is unreached.
    """

    deliveries: tuple[DeliveryView, ...]
    guardians: int
    unreached: int
    nobody_reached: bool


def delivery_report(tutela: Tutela, request_id: int) -> DeliveryReport:
    """Return whether the guardians were told of a crossing request, and how.

    A guardian counts as reached, or still being reached, while any of their messages is
    sent or queued.

    Raises:
        StoreError: the store failed.
    """
    deliveries = tuple(delivery_status(tutela, request_id))
    guardians = {d.account_id for d in deliveries}
    unreached = {
        account
        for account in guardians
        if all(d.state == NoticeState.FAILED for d in deliveries if d.account_id == account)
    }
    return DeliveryReport(
        deliveries=deliveries,
        guardians=len(guardians),
        unreached=len(unreached),
        nobody_reached=unreached == guardians,
    )
