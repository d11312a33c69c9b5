"""The whole story of issue 2 through the services, on the embedded chain and on anvil."""

from __future__ import annotations

import pytest

from ledger_client.contracts.reverts import CrossingLedgerNotApproved
from ledger_client.services import children, crossings
from tests.conftest import World
from tests.integration.guardian_codes import code_of, keep

FATHER = "Ion Popescu;MD-0912-3345;ion.popescu@example.org"
MOTHER = "Elena Popescu;MD-0877-1290;elena.popescu@example.org"


def test_a_guardian_travelling_with_the_child_needs_the_other_guardian(world: World) -> None:
    tutela = world.tutela
    child = keep(
        tutela,
        children.enrol_child(
            tutela,
            given_name="Maria",
            family_name="Popescu",
            birth_date="2016-04-12",
            birth_place="Chișinău",
            guardian_specs=[FATHER, MOTHER],
        ),
    )
    request = crossings.request_crossing(
        tutela,
        child.card,
        direction="exit",
        border_point="MD-LEUSENI",
        companion_name="Ion Popescu",
        companion_document="md 0912 3345",
    )
    assert (request.status, request.companion_is_guardian) == ("pending", True)

    father = crossings.decide_as_guardian(
        tutela,
        str(request.request),
        guardian_document="MD09123345",
        approve=True,
        secret=code_of(tutela, "MD09123345"),
    )
    assert (father.counted, father.status) == (False, "pending")
    with pytest.raises(CrossingLedgerNotApproved):
        crossings.record_outcome(tutela, str(request.request), outcome="crossed")

    mother = crossings.decide_as_guardian(
        tutela,
        str(request.request),
        guardian_document="MD-0877-1290",
        approve=True,
        secret=code_of(tutela, "MD-0877-1290"),
    )
    assert (mother.counted, mother.status) == (True, "approved")
    done = crossings.record_outcome(tutela, str(request.request), outcome="crossed")
    assert done.status == "crossed"

    # The history is read from the chain's events, each with its transaction.
    [entry] = crossings.history(tutela, child.card)
    assert (entry.request, entry.direction, entry.border_point) == (
        request.request,
        "exit",
        "MD-LEUSENI",
    )
    assert (entry.status, entry.outcome) == ("crossed", "crossed")
    assert [(d["approved"], d["counted"]) for d in entry.decisions] == [(True, False), (True, True)]
    assert entry.outcome_tx is not None
    assert entry.request_tx != entry.outcome_tx
