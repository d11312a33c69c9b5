"""``tutela investigate ...`` as a user runs it: the installed command, one process a step."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger_client.services.context import open_tutela
from ledger_client.settings import load_settings
from ledger_client.store.database import Database
from ledger_client.store.portal_models import AuditEntry
from tests.conftest import FAST_KEYSTORES
from tests.integration.investigation_world import STRANGER_DOCUMENT, TRICK, tell_the_story
from tests.integration.test_cli import tutela

CASE = ("--case", "2026/0142", "--reason", "a report of a child taken abroad")


@dataclass(frozen=True)
class Folder:
    data_dir: Path
    cards: dict[str, str]
    requests: dict[str, int]

    @property
    def d(self) -> tuple[str, str]:
        return ("--data-dir", str(self.data_dir))

    def audit_entries(self) -> int:
        settings = load_settings(self.data_dir, None, {"TUTELA_KEYSTORE_WORK_FACTOR": "1024"})
        database = Database(settings.database_url)
        try:
            with database.reading() as session:
                return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
        finally:
            database.dispose()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    # Made in process: what is under test here is the command, not how the folder came to be.
    from ledger_client.services import staff
    from ledger_client.services.setup import initialise

    data_dir = tmp_path_factory.mktemp("investigate-cli") / "data"
    settings = load_settings(data_dir, None, {"TUTELA_KEYSTORE_WORK_FACTOR": FAST_KEYSTORES})
    initialise(settings)
    with open_tutela(settings) as opened:
        for name, role in (
            ("registrar", "registrar"),
            ("officer", "border-officer"),
            ("protector", "child-protection"),
        ):
            staff.add_staff(opened, name, role)
        story = tell_the_story(opened)
    return Folder(data_dir, story.cards, story.requests)


def test_search_timeline_check_links_and_flags_with_json(folder: Folder, tmp_path: Path) -> None:
    exported = tmp_path / "findings.csv"
    found = tutela(
        "investigate", "search", *CASE, "--companion-document", STRANGER_DOCUMENT,
        "--csv", exported, "--json", *folder.d,
    ).json()["search"]  # fmt: skip
    assert {h["request_id"] for h in found["hits"]} == {
        folder.requests[label] for label in ("b1", "c1", "a3")
    }
    assert found["truncated"] is False
    hit = found["hits"][0]
    assert hit["companion_name"] == "Grigore Stan"
    assert set(hit["proof"]) == {"tx_hash", "block", "log_index"}
    rows = list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8"), newline="")))
    assert len(rows) == 4
    assert rows[0][0] == "request_id"

    trick = tutela(
        "investigate", "search", *CASE, "--card", folder.cards["andrei"], "--outcome", "pending",
        "--csv", exported, "--json", *folder.d,
    ).json()["search"]  # fmt: skip
    assert [h["companion_name"] for h in trick["hits"]] == [TRICK]
    (row,) = list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8"), newline="")))[1:]
    assert row[3] == "'" + TRICK

    line = tutela(
        "investigate", "timeline", folder.cards["maria"], *CASE, "--json", *folder.d
    ).json()["timeline"]
    assert line["child_name"] == "Maria Popescu"
    assert line["items"][0]["kind"] == "enrolled"
    proof = line["items"][-1]["proof"]

    check = tutela(
        "investigate", "check", proof["tx_hash"], str(proof["log_index"]), *CASE, "--json",
        *folder.d,
    ).json()["check"]  # fmt: skip
    assert check == {
        "confirmed": True,
        "block": proof["block"],
        "event": "CrossingRecorded",
        "differences": [],
    }

    graph = tutela(
        "investigate", "links", "--companion-document", STRANGER_DOCUMENT, "--depth", "1",
        *CASE, "--json", *folder.d,
    ).json()["links"]  # fmt: skip
    assert sorted(n["label"] for n in graph["nodes"] if n["kind"] == "child") == [
        "Ana Ceban",
        "Andrei Rusu",
        "Maria Popescu",
    ]

    flags = tutela("investigate", "flags", "--open", "--json", *folder.d).json()["flags"]
    # The stranger took three children who are not theirs within a few days.
    (taken,) = [f for f in flags if f["indicator"] == "companion-unrelated-children"]
    assert set(taken) == {
        "id", "indicator", "number", "score", "explanation", "status", "people", "crossings",
    }  # fmt: skip
    assert taken["status"] == "open"
    assert set(taken["crossings"]) >= {folder.requests[x] for x in ("b1", "c1", "a3")}
    people = {(p["role"], p["name"]) for p in taken["people"]}
    assert ("companion", "Grigore Stan") in people
    assert ("child", "Ana Ceban") in people
    (stranger,) = [p for p in taken["people"] if p["role"] == "companion"]
    assert stranger["document"] == "ST99990001"

    reviewed = tutela(
        "investigate", "review", str(taken["id"]), "--note", "spoke to the families", "--json",
        *folder.d,
    ).json()["flag"]  # fmt: skip
    assert reviewed["status"] == "reviewed"
    still_open = tutela("investigate", "flags", "--open", "--json", *folder.d).json()["flags"]
    assert taken["id"] not in {f["id"] for f in still_open}

    assert tutela("investigate", "backfill", "--json", *folder.d).json() == {
        "backfill": {"filled": 0}
    }


def test_only_an_investigator_may_investigate_and_bad_input_writes_nothing(
    folder: Folder,
) -> None:
    before = folder.audit_entries()
    refused = tutela(
        "investigate", "search", *CASE, "--border-point", "MD-OTACI", "--as", "registrar",
        *folder.d,
    )  # fmt: skip
    refused.assert_refused("investigator needed")
    tutela("investigate", "search", *CASE, *folder.d).assert_refused("at least one search")
    tutela(
        "investigate", "search", "--case", "2026/0142", "--reason", "short", "--card",
        folder.cards["ana"], *folder.d,
    ).assert_refused("reason")  # fmt: skip
    tutela("investigate", "search", *CASE, "--from", "2026-02-30", *folder.d).assert_refused(
        "calendar date"
    )
    tutela("investigate", "check", "0x12", "0", *CASE, *folder.d).assert_refused("transaction hash")
    tutela("investigate", "timeline", "0000000000", *CASE, *folder.d).assert_refused(
        "no child has card"
    )
    assert folder.audit_entries() == before
