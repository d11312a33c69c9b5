"""What the border officer learns about the guardians: reached or not, and a held approval."""

from __future__ import annotations

from ledger_client.notify.delivery import deliver_due
from ledger_client.services import crossings
from tests.portal.conftest import Portal
from tests.portal.support import enrol, request_exit, text_of


def test_a_failed_sms_is_told_in_the_officers_language_and_the_page_can_follow_it(
    portal: Portal,
) -> None:
    tutela = portal.tutela
    child = enrol(tutela, "Elena Rusu;MD-0877-1290;elena@example.org;069 123 456")
    request = request_exit(tutela, child.card)
    officer = portal.staff_client("border-officer")
    before = officer.get(f"/border/requests/{request}/status.json").get_json()
    deliver_due(tutela)  # no SMS gateway here: the SMS fails for good at once
    after = officer.get(f"/border/requests/{request}/status.json").get_json()
    # The page reloads its list of messages when their states change.
    assert before["deliveries"] != after["deliveries"]
    assert "failed" in after["deliveries"].split(",")
    page = officer.get(f"/border/requests/{request}", headers={"Accept-Language": "ro"})
    assert f'data-deliveries="{after["deliveries"]}"' in page.get_data(as_text=True)
    assert "nu este configurat niciun serviciu de SMS" in text_of(page)
    assert "no SMS gateway" not in text_of(page)


def test_a_held_request_says_the_companions_approval_was_set_aside(portal: Portal) -> None:
    tutela = portal.tutela
    child = enrol(
        tutela, "Ion Rusu;MD-0912-3345;ion@example.org", "Elena Rusu;MD-0877-1290;elena@example.org"
    )
    request = request_exit(tutela, child.card, "Ion Rusu", "MD-0912-3345")
    officer = portal.staff_client("border-officer")
    assert "set aside" not in text_of(officer.get(f"/border/requests/{request}"))
    (father,) = [c for c in child.activation_codes if c.name == "Ion Rusu"]
    crossings.decide_as_guardian(
        tutela, str(request), approve=True, secret=father.code, guardian_document="MD-0912-3345"
    )
    page = text_of(officer.get(f"/border/requests/{request}"))
    assert "Waiting for the guardians" in page
    assert "That approval is set aside by the family rule" in page
