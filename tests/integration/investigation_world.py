"""A small registry with a known story, for the investigation tests, on a real embedded chain.

Three children; a stranger (Grigore Stan) travels with all three; Maria crosses with each
parent; the days are days of the chain's clock, moved forward between groups of requests:

    label  day  child   direction  border      companion             ends
    a1     0    Maria   exit       MD-LEUSENI  Ion (her father)      crossed
    a2     0    Maria   entry      RO-ALBITA   Elena (her mother)    crossed
    b1     2    Andrei  exit       MD-OTACI    Grigore Stan          denied by his guardian
    c1     2    Ana     exit       MD-LEUSENI  Grigore Stan          expired (left pending)
    a3     4    Maria   exit       MD-OTACI    Grigore Stan          approved, turned back
    b2     4    Andrei  exit       MD-LEUSENI  =HYPERLINK("x")       pending
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3

from ledger_client.services import children, crossings, staff
from ledger_client.services.audit import Actor
from ledger_client.services.context import Tutela, staff_acting_as
from ledger_client.store.models import StaffRole
from tests.conftest import _world, clean_environment, make_settings
from tests.support.postgres import Cluster

DAY = 24 * 3600
FATHER = "Ion Popescu;MD-0912-3345;ion.popescu@example.org"
MOTHER = "Elena Popescu;MD-0877-1290;elena.popescu@example.org"
FATHER_DOCUMENT, MOTHER_DOCUMENT = "MD09123345", "MD08771290"
VASILE = "Vasile Rusu;RU-1111-2222;vasile.rusu@example.org"
VASILE_DOCUMENT = "RU11112222"
OLGA = "Olga Ceban;CE-2222-3333;olga.ceban@example.org"
STRANGER, STRANGER_DOCUMENT = "Grigore Stan", "ST-9999-0001"
TRICK, TRICK_DOCUMENT = '=HYPERLINK("http://evil.example")', "EV-1234-5678"
ANDREI_BIRTH = "2015-02-01"


@dataclass
class Story:
    tutela: Tutela
    investigator: Actor
    cards: dict[str, str]  # "maria", "andrei", "ana"
    requests: dict[str, int]  # label -> request id

    def labels(self, request_ids: object) -> set[str]:
        by_id = {v: k for k, v in self.requests.items()}
        return {by_id[r] for r in request_ids}  # type: ignore[attr-defined]


def _advance(w3: Web3, seconds: int) -> None:
    """Moves the chain's clock forward until its latest block shows the move."""
    target = int(w3.eth.get_block("latest")["timestamp"]) + seconds
    while int(w3.eth.get_block("latest")["timestamp"]) < target:
        latest = int(w3.eth.get_block("latest")["timestamp"])
        w3.provider.make_request("evm_increaseTime", [target - latest])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def add_investigator(tutela: Tutela) -> Actor:
    """Petru Ciobanu, investigator, as the services' audit entries name him."""
    staff.add_staff(tutela, "Petru Ciobanu", "investigator")
    with tutela.database.transaction() as session:
        member = staff_acting_as(session, StaffRole.INVESTIGATOR, None)
        return Actor("staff", member.id, member.name, member.address)


def tell_the_story(tutela: Tutela) -> Story:
    investigator = add_investigator(tutela)
    maria = children.enrol_child(
        tutela,
        given_name="Maria",
        family_name="Popescu",
        birth_date="2016-04-12",
        birth_place="Chișinău",
        guardian_specs=[FATHER, MOTHER],
    )
    andrei = children.enrol_child(
        tutela,
        given_name="Andrei",
        family_name="Rusu",
        birth_date=ANDREI_BIRTH,
        birth_place="Bălți",
        guardian_specs=[VASILE],
    )
    ana = children.enrol_child(
        tutela,
        given_name="Ana",
        family_name="Ceban",
        birth_date="2017-07-07",
        birth_place="Cahul",
        guardian_specs=[OLGA],
    )
    codes = {c.document: c.code for view in (maria, andrei, ana) for c in view.activation_codes}

    def request(card: str, direction: str, border: str, name: str, document: str) -> int:
        view = crossings.request_crossing(
            tutela,
            card,
            direction=direction,
            border_point=border,
            companion_name=name,
            companion_document=document,
        )
        return view.request

    def decide(request_id: int, document: str, approve: bool) -> None:
        crossings.decide_as_guardian(
            tutela,
            str(request_id),
            approve=approve,
            secret=codes[document],
            guardian_document=document,
        )

    ids: dict[str, int] = {}
    ids["a1"] = request(maria.card, "exit", "MD-LEUSENI", "Ion Popescu", FATHER_DOCUMENT)
    decide(ids["a1"], MOTHER_DOCUMENT, True)
    crossings.record_outcome(tutela, str(ids["a1"]), outcome="crossed")
    ids["a2"] = request(maria.card, "entry", "RO-ALBITA", "Elena Popescu", MOTHER_DOCUMENT)
    crossings.record_outcome(tutela, str(ids["a2"]), outcome="crossed")
    _advance(tutela.w3, 2 * DAY)
    ids["b1"] = request(andrei.card, "exit", "MD-OTACI", STRANGER, STRANGER_DOCUMENT)
    decide(ids["b1"], VASILE_DOCUMENT, False)
    ids["c1"] = request(ana.card, "exit", "MD-LEUSENI", STRANGER, STRANGER_DOCUMENT)
    _advance(tutela.w3, 2 * DAY)
    ids["a3"] = request(maria.card, "exit", "MD-OTACI", STRANGER, STRANGER_DOCUMENT)
    decide(ids["a3"], MOTHER_DOCUMENT, True)
    crossings.record_outcome(tutela, str(ids["a3"]), outcome="turned-back")
    ids["b2"] = request(andrei.card, "exit", "MD-LEUSENI", TRICK, TRICK_DOCUMENT)
    tutela.refresh_index()
    cards = {"maria": maria.card, "andrei": andrei.card, "ana": ana.card}
    return Story(tutela, investigator, cards, ids)


def story_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, store: str
) -> Iterator[Story]:
    """The story on the embedded chain, with its store on SQLite or a PostgreSQL database."""
    data_dir: Path = tmp_path_factory.mktemp(f"investigation-{store}") / "data"
    with pytest.MonkeyPatch.context() as monkeypatch:
        clean_environment(monkeypatch)
        database = None
        cluster: Cluster | None = None
        if store == "postgresql":
            cluster = request.getfixturevalue("postgres_cluster")
            database = f"test_{uuid.uuid4().hex[:16]}"
            cluster.create_database(database)
            monkeypatch.setenv("TUTELA_DATABASE_URL", cluster.url(database))
        try:
            for world in _world(make_settings(data_dir, None, monkeypatch)):
                yield tell_the_story(world.tutela)
        finally:
            if cluster is not None and database is not None:
                cluster.drop_database(database)
