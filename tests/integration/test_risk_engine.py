"""The risk engine on a real chain, end to end: a child is enrolled through the services, a
crossing is denied, the same companion tries another border point an hour later; once the
index has the events, indicator 3 flags the child with both crossings behind it."""

from __future__ import annotations

from ledger_client.risk.engine import update_flags
from ledger_client.risk.flags import list_flags
from ledger_client.services import children, crossings
from ledger_client.services.children import child_by_card
from tests.conftest import World
from tests.integration.guardian_codes import decide, keep
from tests.integration.test_indexer import move_time

FATHER = "Ion Popescu;MD-0912-3345;ion.popescu@example.org"
MOTHER_DOC = "MD08771290"
MOTHER = "Elena Popescu;MD-0877-1290;elena.popescu@example.org"
STRANGER_DOC = "MD77770001"


def test_a_denial_then_another_border_point_is_flagged(module_world: World) -> None:
    tutela = module_world.tutela
    card = keep(
        tutela,
        children.enrol_child(
            tutela,
            given_name="Ana",
            family_name="Risc",
            birth_date="2017-03-03",
            birth_place="Cahul",
            guardian_specs=[FATHER, MOTHER],
        ),
    ).card

    def ask(border_point: str) -> int:
        view = crossings.request_crossing(
            tutela,
            card,
            direction="exit",
            border_point=border_point,
            companion_name="Vasile Strainu",
            companion_document=STRANGER_DOC,
        )
        return int(view.request)

    first = ask("MD-LEUSENI")
    decide(tutela, str(first), MOTHER_DOC, approve=False)
    tutela.refresh_index(after_write=True)
    with tutela.database.transaction() as session:
        update_flags(session, tutela.settings.risk)  # the first run: everything so far
    move_time(tutela.w3, 3600)
    second = ask("MD-OTACI")
    tutela.refresh_index(after_write=True)
    with tutela.database.transaction() as session:
        child_id = child_by_card(session, card).child_id
        report = update_flags(session, tutela.settings.risk)  # only the new events
        found = list_flags(session, child_id=child_id)
    assert report.flags_opened == 1
    assert 0 < report.events_seen < 10
    flags = {flag.indicator: flag for flag in found}
    flag = flags["denied-then-elsewhere"]
    assert (flag.subject_kind, flag.subject, flag.status) == ("child", child_id, "open")
    assert flag.crossings == (first, second)
    assert flag.explanation == (
        "A crossing of this child was denied at MD-LEUSENI, then 1 new exit request followed "
        "at MD-OTACI within 12 hours."
    )
    # Nothing personal in a flag: ids, commitments, border points and numbers only.
    assert "Strainu" not in repr(found)
    assert "Popescu" not in repr(found)
