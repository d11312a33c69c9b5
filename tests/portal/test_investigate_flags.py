"""The investigator's risk flags: the open ones on the workbench and in their list, one flag
with its people and crossings, and its review with a note and the password typed again."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from ledger_client.risk.engine import update_flags
from ledger_client.risk.flags import get_flag, list_flags
from ledger_client.risk.thresholds import RiskThresholds
from ledger_client.services.context import Tutela
from tests.portal.conftest import Portal
from tests.portal.support import submit, text_of
from tests.portal.test_investigate_desk import Scene, audited, desk, scene

__all__ = ["desk", "scene"]  # fixtures, used by name


@pytest.fixture
def flagged(portal: Portal, scene: Scene) -> int:
    """With two unrelated children enough, Vasile Lupu is flagged; returns the flag's id."""
    tutela = portal.tutela
    tutela.refresh_index()
    with tutela.database.transaction() as session:
        update_flags(session, RiskThresholds(companion_children=2))
    with tutela.database.reading() as session:
        [flag] = [f for f in list_flags(session) if f.indicator == "companion-unrelated-children"]
    return flag.id


def flag_state(tutela: Tutela, flag_id: int) -> str:
    with tutela.database.reading() as session:
        return get_flag(session, flag_id).status


def test_the_open_flags_show_score_indicator_people_and_crossings(
    scene: Scene, flagged: int, desk: FlaskClient
) -> None:
    for url in ("/investigate/", "/investigate/flags"):
        page = desk.get(url)
        text = text_of(page)
        assert "An adult travelling with several children not theirs" in text
        assert "Vasile Lupu" in text
        assert "MD55550001" in text
        assert "Maria Popescu" in text
        assert "Andrei Ceban" in text
        assert f"/investigate/flags/{flagged}" in page.get_data(as_text=True)
    detail = desk.get(f"/investigate/flags/{flagged}")
    text = text_of(detail)
    assert f"Request {scene.maria_with_vasile}" in text
    assert f"Request {scene.andrei_with_vasile}" in text
    assert "Nobody has reviewed this flag yet." in text


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"note": "", "password": "investigator-password-long"}, 400, "Write what you found"),
        ({"note": "n" * 2001, "password": "investigator-password-long"}, 400, "at most 2000"),
        ({"note": "Spoke to the family.", "password": ""}, 400, "Type your password again"),
        (
            {"note": "Spoke to the family.", "password": "a-wrong-password-here"},
            403,
            "The password is wrong. The flag was not marked reviewed.",
        ),
    ],
)
def test_a_review_needs_a_note_and_the_password(
    portal: Portal,
    flagged: int,
    desk: FlaskClient,
    data: dict[str, str],
    status: int,
    message: str,
) -> None:
    url = f"/investigate/flags/{flagged}"
    response = submit(desk, f"{url}/review", data, form_page=url)
    assert response.status_code == status
    assert message in text_of(response)
    assert flag_state(portal.tutela, flagged) == "open"
    assert audited(portal.tutela, "flag-reviewed") == []


def test_a_review_marks_the_flag_keeps_the_note_and_is_audited(
    portal: Portal, flagged: int, desk: FlaskClient
) -> None:
    url = f"/investigate/flags/{flagged}"
    note = "Vasile Lupu is the children's sports coach; the trips were tournaments."
    response = submit(
        desk, f"{url}/review", {"note": note, "password": "investigator-password-long"},
        form_page=url,
    )  # fmt: skip
    assert response.status_code == 303
    assert flag_state(portal.tutela, flagged) == "reviewed"
    page = text_of(desk.get(url))
    assert f"Flag {flagged} is marked reviewed." in page
    assert note in page
    [entry] = audited(portal.tutela, "flag-reviewed")
    assert entry.actor == "staff:investigator"
    assert entry.detail["flag"] == flagged
    assert "coach" not in str(entry.detail)
    # No longer among the open flags; still among all of them.
    assert f"/investigate/flags/{flagged}" not in desk.get("/investigate/flags").get_data(
        as_text=True
    )
    assert f"/investigate/flags/{flagged}" in desk.get("/investigate/flags?all=1").get_data(
        as_text=True
    )


def test_an_unknown_flag_is_a_404_and_cannot_be_reviewed(flagged: int, desk: FlaskClient) -> None:
    url = f"/investigate/flags/{flagged}"
    assert desk.get("/investigate/flags/999999").status_code == 404
    response = submit(
        desk, "/investigate/flags/999999/review",
        {"note": "Checked.", "password": "investigator-password-long"}, form_page=url,
    )  # fmt: skip
    assert response.status_code == 404


def test_each_crossing_of_a_companion_flag_leads_to_its_own_childs_timeline(
    scene: Scene, flagged: int, desk: FlaskClient
) -> None:
    page = desk.get(f"/investigate/flags/{flagged}").get_data(as_text=True)
    # The flag is about Vasile Lupu and spans two children: each crossing is one child's.
    for card, request_id in (
        (scene.maria_card, scene.maria_with_vasile),
        (scene.andrei_card, scene.andrei_with_vasile),
    ):
        link = f'href="/investigate/children/{card}/timeline#request-{request_id}"'
        assert link in page
        assert f"{link}>Request {request_id}</a>" in page


def test_one_flag_is_read_and_audited_alone(
    portal: Portal, flagged: int, desk: FlaskClient
) -> None:
    listed = len(audited(portal.tutela, "investigate-flags"))
    assert desk.get(f"/investigate/flags/{flagged}").status_code == 200
    [entry] = audited(portal.tutela, "investigate-flag")
    assert (entry.actor, entry.subject, entry.detail) == (
        "staff:investigator",
        f"flag:{flagged}",
        {"flag": flagged},
    )
    # The page no longer reads (and audits) every flag to show one.
    assert len(audited(portal.tutela, "investigate-flags")) == listed
    assert desk.get("/investigate/flags/999999").status_code == 404
    assert len(audited(portal.tutela, "investigate-flag")) == 1
