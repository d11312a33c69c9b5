"""The outbox through the services: on both chains and on both stores.

Crashes in these tests are a process that stops right after its database commit (the moment
that matters: the transaction is signed and stored, nothing was broadcast); the fault tests
kill real processes at random moments.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger_client.contracts.reverts import (
    CrossingLedgerChildNotActive,
    CrossingLedgerRequestClosed,
)
from ledger_client.errors import ConflictError, NotFoundError
from ledger_client.outbox.models import AccountNonce, OutboxItem
from ledger_client.outbox.outbox import Outbox
from ledger_client.outbox.reconciler import reconcile_once
from ledger_client.services import actions, children, crossings
from ledger_client.services.context import Tutela
from ledger_client.store.models import CrossingRequest
from tests.conftest import World, _world, make_settings
from tests.integration.guardian_codes import decide, keep

MOTHER = "Elena Rusu;MD-0877-1290;elena.rusu@example.org"


class CrashError(Exception):
    """The process stops right after its database commit, before anything is broadcast."""


@pytest.fixture
def store_world(
    tmp_path: Path, chain_url: str | None, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    monkeypatch.setenv("TUTELA_DATABASE_URL", database_url)
    yield from _world(make_settings(tmp_path / "data", chain_url, monkeypatch))


def _enrol(tutela: Tutela, given_name: str = "Ana") -> children.ChildView:
    return keep(
        tutela,
        children.enrol_child(
            tutela,
            given_name=given_name,
            family_name="Rusu",
            birth_date="2017-03-02",
            birth_place="Bălți",
            guardian_specs=[MOTHER],
        ),
    )


def _request(tutela: Tutela, card: str, key: str | None = None) -> crossings.CrossingView:
    return crossings.request_crossing(
        tutela,
        card,
        direction="exit",
        border_point="MD-LEUSENI",
        companion_name="Vasile Ciobanu",
        companion_document="MD55500001",
        idempotency_key=key,
    )


def _requests_on_chain(tutela: Tutela) -> int:
    return len(tutela.ledger.events("CrossingRequested", from_block=0))


def _count(tutela: Tutela, model: type) -> int:
    with tutela.database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _crash_after_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(self: Outbox, key: str, timeout: float = 0) -> OutboxItem:
        raise CrashError(key)

    monkeypatch.setattr(Outbox, "settle", crash)


def test_a_retry_with_the_same_key_reports_the_first_request(store_world: World) -> None:
    tutela = store_world.tutela
    child = _enrol(tutela)
    first = _request(tutela, child.card, key="desk-7/2026-11-28T03:10")
    again = _request(tutela, child.card, key="desk-7/2026-11-28T03:10")
    assert again.request == first.request
    assert _requests_on_chain(tutela) == 1
    status = actions.action_status(tutela, "desk-7/2026-11-28T03:10")
    assert (status.purpose, status.state, status.reason) == ("crossing-request", "confirmed", None)
    # Without a key, the same request in the same minute is the same action too.
    assert _request(tutela, child.card).request == _request(tutela, child.card).request
    assert _requests_on_chain(tutela) == 2


def test_a_key_used_for_another_action_is_refused_and_nothing_is_sent(
    store_world: World,
) -> None:
    tutela = store_world.tutela
    child = _enrol(tutela)
    request = _request(tutela, child.card, key="K-1")
    height = tutela.w3.eth.block_number
    with pytest.raises(ConflictError, match="'K-1' was used for another action"):
        crossings.record_outcome(
            tutela, str(request.request), outcome="turned-back", idempotency_key="K-1"
        )
    assert tutela.w3.eth.block_number == height
    assert crossings.show_crossing(tutela, request.request).status == "pending"


def test_a_refusal_found_before_signing_writes_nothing(store_world: World) -> None:
    tutela = store_world.tutela
    child = _enrol(tutela)
    children.revoke_child(tutela, child.card, reason="enrolled twice")
    items, nonces = _count(tutela, OutboxItem), _nonce_rows(tutela)
    with pytest.raises(ConflictError, match="revoked"):
        _request(tutela, child.card)
    assert (_count(tutela, OutboxItem), _nonce_rows(tutela)) == (items, nonces)
    assert _count(tutela, CrossingRequest) == 0


def _nonce_rows(tutela: Tutela) -> list[tuple[str, int]]:
    with tutela.database.transaction() as session:
        return [(n.address, n.next_nonce) for n in session.scalars(select(AccountNonce))]


def test_an_action_left_queued_by_a_crash_is_finished_by_a_retry_with_its_key(
    store_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tutela = store_world.tutela
    child = _enrol(tutela)
    with monkeypatch.context() as patch:
        _crash_after_commit(patch)
        with pytest.raises(CrashError):
            _request(tutela, child.card, key="crashed")
    assert actions.action_status(tutela, "crashed").state == "queued"
    assert _requests_on_chain(tutela) == 0

    finished = _request(tutela, child.card, key="crashed")
    assert finished.status == "pending"
    assert _requests_on_chain(tutela) == 1
    assert actions.action_status(tutela, "crashed").state == "confirmed"


def test_the_reconciler_sends_and_confirms_what_a_crash_left(
    store_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tutela = store_world.tutela
    child = _enrol(tutela)
    with monkeypatch.context() as patch:
        _crash_after_commit(patch)
        for n in range(3):
            with pytest.raises(CrashError):
                _request(tutela, child.card, key=f"left-{n}")
    assert [v.state for v in actions.list_actions(tutela, open_only=True)] == ["queued"] * 3

    report = reconcile_once(tutela.outbox)
    assert (report.sent, report.settled, report.waiting) == (3, 3, 0)
    assert actions.list_actions(tutela, open_only=True) == []
    with tutela.database.transaction() as session:
        numbers = sorted(
            n for n in session.scalars(select(CrossingRequest.request_id)) if n is not None
        )
    assert numbers == [1, 2, 3]
    assert reconcile_once(tutela.outbox).settled == 0


def test_a_transaction_that_reverts_after_queueing_fails_with_its_reason_and_is_undone(
    store_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child is revoked between the request's check and its block."""
    tutela = store_world.tutela
    child = _enrol(tutela)
    with monkeypatch.context() as patch:
        _crash_after_commit(patch)
        with pytest.raises(CrashError):
            _request(tutela, child.card, key="too-late")
    assert _count(tutela, CrossingRequest) == 1
    children.revoke_child(tutela, child.card, reason="withdrawn")

    with pytest.raises(CrossingLedgerChildNotActive):
        _request(tutela, child.card, key="too-late")
    status = actions.action_status(tutela, "too-late")
    assert status.state == "failed"
    assert "revoked" in str(status.reason)
    # The request's off-chain half went with it.
    assert _count(tutela, CrossingRequest) == 0
    # Asked again, the same typed error comes back from the store.
    with pytest.raises(CrossingLedgerChildNotActive):
        _request(tutela, child.card, key="too-late")


def test_two_outcomes_queued_for_one_request_settle_once(
    store_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tutela = store_world.tutela
    child = _enrol(tutela)
    request = _request(tutela, child.card)
    decide(tutela, str(request.request), "MD08771290")
    with monkeypatch.context() as patch:
        _crash_after_commit(patch)
        for key, outcome in (("desk-1", "crossed"), ("desk-2", "turned-back")):
            with pytest.raises(CrashError):
                crossings.record_outcome(
                    tutela, str(request.request), outcome=outcome, idempotency_key=key
                )
    reconcile_once(tutela.outbox)
    assert crossings.show_crossing(tutela, request.request).status == "crossed"
    assert actions.action_status(tutela, "desk-1").state == "confirmed"
    second = actions.action_status(tutela, "desk-2")
    assert second.state == "failed"
    with pytest.raises(CrossingLedgerRequestClosed):
        crossings.record_outcome(
            tutela, str(request.request), outcome="turned-back", idempotency_key="desk-2"
        )


def test_a_key_used_outside_tutela_does_not_stall_the_account(store_world: World) -> None:
    """Someone sends from the officer's key directly; the store's counter catches up."""
    tutela = store_world.tutela
    child = _enrol(tutela)
    _request(tutela, child.card, key="before")
    officer = _officer(tutela)
    sender = tutela.sender_for(officer)
    sender.send(to=officer.address, data=b"")  # type: ignore[arg-type]
    after = _request(tutela, child.card, key="after")
    assert after.status == "pending"
    count = tutela.w3.eth.get_transaction_count(officer.address)  # type: ignore[arg-type]
    assert dict(_nonce_rows(tutela))[officer.address] == count


def _officer(tutela: Tutela):  # type: ignore[no-untyped-def]
    from ledger_client.store.models import StaffMember

    with tutela.database.transaction() as session:
        return session.scalar(select(StaffMember).where(StaffMember.name == "officer"))


def test_an_unknown_key_is_reported(store_world: World) -> None:
    with pytest.raises(NotFoundError, match="no action was queued under the key 'nope'"):
        actions.action_status(store_world.tutela, "nope")


@pytest.mark.anvil
def test_blocks_the_node_lost_are_sent_again(
    tmp_path: Path, anvil_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """anvil drops the last blocks (as after a kill): the outbox puts their transactions back."""
    monkeypatch.setenv("TUTELA_DATABASE_URL", database_url)
    for world in _world(make_settings(tmp_path / "data", anvil_url, monkeypatch)):
        tutela = world.tutela
        child = _enrol(tutela)
        snapshot = _rpc(tutela, "evm_snapshot", [])
        _request(tutela, child.card, key="lost-1")
        _rpc(tutela, "evm_revert", [snapshot])
        assert _requests_on_chain(tutela) == 0

        # The reconciler sees that the chain has not reached the request's nonce.
        report = reconcile_once(tutela.outbox)
        assert (report.reopened, report.sent, report.settled) == (1, 1, 1)
        assert _stored_numbers(tutela) == {"lost-1": 1}
        assert _requests_on_chain(tutela) == 1

        # Lost again; this time the next request of the same officer finds the gap itself
        # instead of waiting behind it.
        snapshot = _rpc(tutela, "evm_snapshot", [])
        _request(tutela, child.card, key="lost-2")
        _rpc(tutela, "evm_revert", [snapshot])
        after = _request(tutela, child.card, key="after-the-loss")
        assert after.status == "pending"
        assert _stored_numbers(tutela) == {"lost-1": 1, "lost-2": 2, "after-the-loss": 3}
        assert _requests_on_chain(tutela) == 3
        assert actions.list_actions(tutela, open_only=True) == []


def _rpc(tutela: Tutela, method: str, params: list[object]) -> object:
    return tutela.w3.provider.make_request(method, params)["result"]  # type: ignore[arg-type]


def _stored_numbers(tutela: Tutela) -> dict[str, int | None]:
    with tutela.database.transaction() as session:
        return {r.action_key: r.request_id for r in session.scalars(select(CrossingRequest))}


def test_init_killed_after_its_chain_was_made_can_be_run_again(tmp_path: Path) -> None:
    """What a SIGKILL between the chain's creation and the configuration leaves behind."""
    from ledger_client.chain.node import create_embedded
    from ledger_client.services.setup import initialise
    from ledger_client.settings import load_settings

    settings = load_settings(tmp_path / "data")
    settings.generate_secrets()
    create_embedded(settings.data_dir, genesis_alloc={})
    assert not settings.initialised

    result = initialise(settings)
    assert settings.initialised
    assert result.embedded
