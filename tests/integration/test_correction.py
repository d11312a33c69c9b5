"""A registrar corrects a record: the chain supersedes it, the old card leads to the new one."""

from __future__ import annotations

import pytest

from ledger_client.contracts.types import ChildId, ChildStatus
from ledger_client.errors import ConflictError, InputError
from ledger_client.services import children, crossings
from tests.conftest import World
from tests.integration.guardian_codes import decide, keep

GUARDIAN = "Dan Lupu;MD1112223;dan@example.org"


def _cross(world: World, card: str) -> int:
    tutela = world.tutela
    request = crossings.request_crossing(
        tutela,
        card,
        direction="exit",
        border_point="MD-PALANCA",
        companion_name="Dan Lupu",
        companion_document="MD1112223",
    )
    crossings.decide_as_protection(tutela, str(request.request), approve=True)
    decide(tutela, str(request.request), "MD1112223")
    return crossings.record_outcome(tutela, str(request.request), outcome="crossed").request


def test_a_corrected_record_keeps_its_guardians_and_history(world: World) -> None:
    tutela = world.tutela
    first = keep(
        tutela,
        children.enrol_child(
            tutela,
            given_name="Ana",
            family_name="Lupu",
            birth_date="2018-02-01",
            birth_place="Orhei",
            guardian_specs=[GUARDIAN],
        ),
    )
    before = _cross(world, first.card)

    corrected = children.correct_child(tutela, first.card, birth_date="2018-02-10")
    assert corrected.card != first.card
    assert corrected.child_id != first.child_id
    assert (corrected.given_name, corrected.birth_date) == ("Ana", "2018-02-10")
    assert [g.document for g in corrected.guardians] == ["MD1112223"]
    old_id = ChildId(bytes.fromhex(first.child_id[2:]))
    new_id = ChildId(bytes.fromhex(corrected.child_id[2:]))
    assert tutela.registry.child_record(old_id).status is ChildStatus.SUPERSEDED
    assert tutela.registry.child_record(new_id).status is ChildStatus.ACTIVE
    superseded = tutela.registry.events(
        "ChildSuperseded", from_block=0, argument_filters={"childId": old_id}
    )
    assert [bytes(e.args["successorId"]) for e in superseded] == [new_id]

    # The old card still works, and leads to the corrected record.
    assert children.show_child(tutela, first.card).child_id == corrected.child_id
    after = _cross(world, first.card)
    assert [e.request for e in crossings.history(tutela, corrected.card)] == [before, after]

    with pytest.raises(InputError, match="nothing to correct"):
        children.correct_child(tutela, corrected.card, birth_date="2018-02-10")
    children.revoke_child(tutela, corrected.card, reason="left the country")
    with pytest.raises(ConflictError, match="only an active record can be corrected"):
        children.correct_child(tutela, first.card, given_name="Anna")
