"""The investigator's pages speak the reader's language in the sentences the services build:
a flag's explanation and a timeline item's line, in English, Romanian and Russian."""

# Russian sentences: their Cyrillic letters are meant.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import Babel, force_locale

import guardian_portal
from guardian_portal.i18n import LANGUAGE_COOKIE
from guardian_portal.investigate.sentences import flag_explanation, timeline_line
from ledger_client.risk.explain import explain
from ledger_client.risk.flags import FlagView
from ledger_client.risk.thresholds import RiskThresholds
from ledger_client.services.investigation_model import LedgerProof, TimelineItem
from tests.portal.support import submit, text_of
from tests.portal.test_investigate_desk import CASE, Scene, desk, scene, search
from tests.portal.test_investigate_flags import flagged

__all__ = ["desk", "flagged", "scene"]  # fixtures, used by name

DAYS = RiskThresholds().companion_window_days  # 30: "30 de zile", "30 дней"

FLAG_SENTENCES = {
    "en": f"This companion travelled with 2 children who are not theirs within {DAYS} days "
    "(2 or more is flagged).",
    "ro": f"Acest însoțitor a călătorit cu 2 copii care nu sunt ai săi în decurs de {DAYS} de "
    "zile (se semnalează de la 2 în sus).",
    "ru": "Этот сопровождающий ездил с 2 детьми, опекуном которых не является, в течение "
    f"{DAYS} дней (сигнал подаётся от 2 и более).",
}


@pytest.mark.parametrize("language", ["en", "ro", "ru"])
def test_a_flag_is_explained_in_the_readers_language(
    flagged: int, desk: FlaskClient, language: str
) -> None:
    desk.set_cookie(LANGUAGE_COOKIE, language)
    for url in ("/investigate/", "/investigate/flags", f"/investigate/flags/{flagged}"):
        text = text_of(desk.get(url))
        assert FLAG_SENTENCES[language] in text
        others = [s for lang, s in FLAG_SENTENCES.items() if lang != language]
        assert not any(sentence in text for sentence in others)


def timeline_lines(scene: Scene) -> dict[str, list[str]]:
    """Maria's timeline: her guardians enrolled with her, then two exits at MD-LEUSENI."""
    vasile, father = scene.maria_with_vasile, scene.maria_with_father
    return {
        "en": [
            "Guardian Ion Popescu added at enrolment.",
            f"Exit request {vasile} at MD-LEUSENI, travelling with Vasile Lupu (not a guardian).",
            f"Exit request {father} at MD-LEUSENI, travelling with Ion Popescu "
            "(one of the child's guardians).",
        ],
        "ro": [
            "Tutorele Ion Popescu a fost adăugat la înregistrare.",
            f"Cererea {vasile} de ieșire din țară, la MD-LEUSENI; însoțitor: Vasile Lupu "
            "(nu este tutore).",
            f"Cererea {father} de ieșire din țară, la MD-LEUSENI; însoțitor: Ion Popescu "
            "(unul dintre tutorii copilului).",
        ],
        "ru": [
            "Опекун Ion Popescu добавлен при регистрации.",
            f"Запрос {vasile} на выезд из страны, пункт пропуска MD-LEUSENI; сопровождающий: "
            "Vasile Lupu (не опекун).",
            f"Запрос {father} на выезд из страны, пункт пропуска MD-LEUSENI; сопровождающий: "
            "Ion Popescu (один из опекунов ребёнка).",
        ],
    }


@pytest.mark.parametrize("language", ["en", "ro", "ru"])
def test_a_timeline_and_its_report_read_in_the_readers_language(
    scene: Scene, desk: FlaskClient, language: str
) -> None:
    desk.set_cookie(LANGUAGE_COOKIE, language)
    search(desk, card=scene.maria_card)
    page = text_of(desk.get(f"/investigate/children/{scene.maria_card}/timeline"))
    report = text_of(
        submit(
            desk,
            "/investigate/report",
            {"what": "timeline", "timeline_card": scene.maria_card},
            form_page="/investigate/",
        )
    )
    lines = timeline_lines(scene)
    for text in (page, report):
        for line in lines[language]:
            assert line in text
        if language != "en":
            # The services' English summaries are not shown beside the translation.
            assert "travelling with" not in text
            assert "added at enrolment" not in text


def test_an_entry_recorded_crossed_reads_in_romanian(scene: Scene, desk: FlaskClient) -> None:
    desk.set_cookie(LANGUAGE_COOKIE, "ro")
    search(desk, card=scene.andrei_card)
    text = text_of(desk.get(f"/investigate/children/{scene.andrei_card}/timeline"))
    entry = scene.andrei_entry
    assert (
        f"Cererea {entry} de intrare în țară, la MD-SCULENI; însoțitor: Tatiana Ceban "
        "(unul dintre tutorii copilului)."
    ) in text
    assert f"Cererea {entry}: copilul a trecut frontiera." in text
    assert CASE["case_number"] in text


# The sentences alone, without a chain: a Flask app with the portal's catalogs is enough.
@pytest.fixture(scope="module")
def sentences_app() -> Iterator[Flask]:
    app = Flask("guardian_portal", root_path=str(Path(guardian_portal.__file__).parent))
    Babel(app)
    with app.app_context():
        yield app


FACTS: dict[int, dict[str, int | str]] = {
    1: {"count": 3, "threshold": 2, "window_days": 30},
    2: {"count": 7, "threshold": 6, "window_days": 30},
    3: {"count": 2, "denied_at": "MD-OTACI", "tried_at": "MD-LEUSENI", "window_hours": 12},
    4: {"days": 0, "window_days": 30, "companion_is_new_guardian": 1, "crossings": 2},
    5: {"count": 3, "children": 5, "threshold": 3},
    7: {"overrides": 2, "co_approvals": 3, "count": 7, "threshold": 3, "window_days": 90},
}


def flag_of(number: int, facts: dict[str, int | str]) -> FlagView:
    now = datetime.now(UTC)
    return FlagView(
        1, number, "", "child", "", 50, facts, explain(number, facts), (), (), "open", now, now,
        None, None,
    )  # fmt: skip


@pytest.mark.parametrize("number", sorted(FACTS))
def test_the_portal_says_in_english_what_the_cli_says(sentences_app: Flask, number: int) -> None:
    flag = flag_of(number, FACTS[number])
    with force_locale("en"):
        assert flag_explanation(flag) == flag.explanation


def test_a_count_of_one_and_a_date_read_as_people_write_them(sentences_app: Flask) -> None:
    left = {"count": 1, "border_point": "MD-OTACI", "at": 1780000000, "window_days": 21}
    flag = flag_of(6, left)
    with force_locale("en"):
        assert flag_explanation(flag) == (
            "This child left at MD-OTACI on 28 May 2026 and no entry has been requested since; "
            "1 exit without return after 21 days."
        )
    with force_locale("ro"):
        assert flag_explanation(flag) == (
            "Acest copil a ieșit din țară prin MD-OTACI la 28 mai 2026 și de atunci nu s-a cerut "
            "nicio intrare; 1 ieșire fără întoarcere după 21 de zile."
        )
    with force_locale("ru"):
        assert "1 выезд без возвращения спустя 21 день." in flag_explanation(flag)
        assert "28 мая 2026" in flag_explanation(flag)


PROOF = LedgerProof("0x" + "ab" * 32, 7, 0)
LINES = [
    ("policy-changed", {"policy": "2-of-3"},
     "Approval policy changed to: 2 of the 3 guardians.",
     "Regula de aprobare a fost modificată: 2 din cei 3 tutori."),
    ("revoked", {"reason": "court_order"},
     "Record revoked. Reason: A court ordered it.",
     "Fișa a fost revocată. Motivul: A dispus instanța de judecată."),
    ("superseded", {"successor": "0520-482-843"},
     "Record corrected: replaced by card 0520-482-843.",
     "Fișă corectată: înlocuită de fișa cu cardul 0520-482-843."),
    ("guardian-removed", {"guardian": "Ion Popescu"},
     "Guardian Ion Popescu removed.", "Tutorele Ion Popescu a fost eliminat."),
    ("guardian-decided",
     {"request_id": 12, "guardian": "Ion Popescu", "approved": True, "set_aside": True},
     "Guardian Ion Popescu approved request 12. It was not counted: the family rule set it aside.",
     "Tutorele Ion Popescu a aprobat cererea 12. Decizia nu s-a luat în considerare, conform "
     "regulii familiei."),
    ("protection-decided", {"request_id": 12, "officer": "Ana Rusu", "approved": False},
     "Child protection (Ana Rusu) denied request 12.",
     "Biroul pentru protecția copilului (Ana Rusu) a respins cererea 12."),
    ("overridden", {"request_id": 12, "court_order_hash": "0xc0de"},
     "Request 12 overridden by court order 0xc0de.",
     "Cererea 12 a fost permisă prin hotărârea judecătorească 0xc0de."),
    ("recorded", {"request_id": 12, "outcome": "turned-back"},
     "Request 12: the child was turned back.", "Cererea 12: copilul a fost întors."),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "facts", "english", "romanian"), LINES)
def test_each_kind_of_timeline_item_reads_in_english_and_romanian(
    sentences_app: Flask, kind: str, facts: dict[str, str | int | bool], english: str, romanian: str
) -> None:
    item = TimelineItem(datetime.now(UTC), kind, "the summary", "x", None, PROOF, facts)
    with force_locale("en"):
        assert timeline_line(item) == english
    with force_locale("ro"):
        assert timeline_line(item) == romanian
