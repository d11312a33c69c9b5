"""Many crossing requests at once: each numbered once, on chain and in the store, never twice."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from ledger_client.errors import InputError
from ledger_client.outbox.models import ActionState, OutboxItem
from ledger_client.services import bulk, children, crossings
from ledger_client.services.context import Tutela
from ledger_client.store.models import CrossingRequest
from tests.conftest import World

BATCH = 12


def _cards(tutela: Tutela, count: int) -> list[str]:
    return [
        children.enrol_child(
            tutela,
            given_name=f"Ana{n}",
            family_name="Rusu",
            birth_date="2017-03-0" + str(n + 1),
            birth_place="Orhei",
            guardian_specs=[f"Vlad Rusu;MD-4400-{n:04d};vlad{n}@example.org"],
        ).card
        for n in range(count)
    ]


def _requests(cards: list[str], count: int, **extra: str) -> list[bulk.CrossingRequestInput]:
    return [
        bulk.CrossingRequestInput(
            card=cards[n % len(cards)],
            direction="exit" if n % 3 else "entry",
            border_point="MD-LEUSENI",
            companion_name="Ion Rusu",
            companion_document=f"MD-9000-{n:04d}",
            **{k: f"{v}-{n}" for k, v in extra.items()},
        )
        for n in range(count)
    ]


def _chain_requests(tutela: Tutela) -> dict[int, str]:
    """Request number -> transaction, from every CrossingRequested event on the chain."""
    events = tutela.ledger.events("CrossingRequested", from_block=0)
    numbers = [int(e.args["requestId"]) for e in events]
    assert len(numbers) == len(set(numbers)), "a request number was emitted twice"
    return {int(e.args["requestId"]): e.tx_hash for e in events}


def _stored(tutela: Tutela) -> dict[str, tuple[int | None, str | None]]:
    with tutela.database.transaction() as session:
        return {
            r.action_key: (r.request_id, r.tx_hash)
            for r in session.scalars(select(CrossingRequest))
        }


def test_a_batch_is_numbered_once_on_chain_and_in_the_store(world: World) -> None:
    tutela = world.tutela
    cards = _cards(tutela, 3)
    results = bulk.request_crossings(tutela, _requests(cards, BATCH, idempotency_key="coach-7"))

    numbers = [r.request for r in results]
    assert None not in numbers
    assert len(set(numbers)) == BATCH
    on_chain = _chain_requests(tutela)
    assert {r.request: r.tx_hash for r in results} == on_chain
    stored = _stored(tutela)
    assert {key: stored[key] for key in (r.key for r in results)} == {
        r.key: (r.request, r.tx_hash) for r in results
    }
    assert len(stored) == BATCH
    # What an officer then sees of each: the right child, the status the direction gives.
    for n, result in enumerate(results):
        assert result.request is not None
        view = crossings.show_crossing(tutela, result.request)
        assert view.card.replace("-", "") == cards[n % 3].replace("-", "")
        assert view.status == ("pending" if n % 3 else "approved")
    with tutela.database.transaction() as session:
        states = session.scalars(select(OutboxItem.state).where(OutboxItem.key.like("coach-7-%")))
        assert list(states) == [ActionState.CONFIRMED] * BATCH


def test_the_same_keys_again_send_nothing_new(world: World) -> None:
    tutela = world.tutela
    cards = _cards(tutela, 2)
    # Keys derived from the requests themselves are scoped to the minute: hold the clock.
    frozen = time.time()
    tutela.clock = lambda: frozen
    first = bulk.request_crossings(tutela, _requests(cards, BATCH))
    head = tutela.w3.eth.block_number
    stored = _stored(tutela)

    again = bulk.request_crossings(tutela, _requests(cards, BATCH))
    assert again == first
    assert tutela.w3.eth.block_number == head
    assert len(_chain_requests(tutela)) == BATCH
    assert _stored(tutela) == stored


def test_a_request_made_alone_is_found_by_a_batch(world: World) -> None:
    tutela = world.tutela
    cards = _cards(tutela, 2)
    frozen = time.time()
    tutela.clock = lambda: frozen
    requests = _requests(cards, 4)
    alone = crossings.request_crossing(
        tutela,
        requests[1].card,
        direction=requests[1].direction,
        border_point=requests[1].border_point,
        companion_name=requests[1].companion_name,
        companion_document=requests[1].companion_document,
    )
    results = bulk.request_crossings(tutela, requests)
    assert results[1].request == alone.request
    assert len(_chain_requests(tutela)) == 4
    # The companion sealed by the batch opens as the single path's does.
    assert crossings.companion_of(tutela, results[2].request or 0) == {
        "name": "Ion Rusu",
        "document": "MD90000002",
    }


def test_a_malformed_request_stops_the_batch_before_anything_is_written(world: World) -> None:
    tutela = world.tutela
    requests = _requests(_cards(tutela, 1), 3)
    requests[2] = bulk.CrossingRequestInput(
        card=requests[2].card,
        direction="sideways",
        border_point="MD-LEUSENI",
        companion_name="Ion Rusu",
        companion_document="MD-9000-0002",
    )
    head = tutela.w3.eth.block_number
    with pytest.raises(InputError, match="request 3: the direction is 'exit' or 'entry'"):
        bulk.request_crossings(tutela, requests)
    assert tutela.w3.eth.block_number == head
    assert _stored(tutela) == {}
