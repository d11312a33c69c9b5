"""The ``tutela`` command as a user runs it: the installed console script, one process a step.

A process costs a second or more of imports, so steps are grouped into story-shaped tests,
and the bad inputs run side by side against one initialised folder that they must leave
exactly as it was. Every command gets ``--data-dir``; none falls back to ``./tutela-data``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from ledger_client.cards import damm_check_digit, format_card
from ledger_client.chain.node import NODE_FILE, open_embedded
from ledger_client.services import children, crossings, staff
from ledger_client.services.context import open_tutela
from ledger_client.services.setup import initialise
from ledger_client.settings import load_settings
from tests.support.processes import ready_line

TUTELA = Path(sys.prefix) / "bin" / "tutela"
# Nothing from the developer's shell leaks in; scrypt at full strength costs 35 ms a key.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")} | {
    "TUTELA_KEYSTORE_WORK_FACTOR": "1024"
}
STAFF = (
    ("Ana Rusu", "registrar"),
    ("Victor Lungu", "border-officer"),
    ("Doina Cebotari", "child-protection"),
    ("Petru Ciobanu", "investigator"),
)
FATHER = "Ion Popescu;MD-0912-3345;ion.popescu@example.org"
MOTHER = "Elena Popescu;MD-0877-1290;elena.popescu@example.org"
FATHER_DOCUMENT, MOTHER_DOCUMENT = "MD09123345", "MD08771290"
CHILD = (
    "--given-name", "Maria", "--family-name", "Popescu",
    "--birth-date", "2016-04-12", "--birth-place", "Chișinău",
)  # fmt: skip
EXIT = ("--direction", "exit", "--border-point", "MD-LEUSENI", "--companion-name", "Ion Popescu")
ENTRY = ("--direction", "entry", "--border-point", "RO-ALBITA", "--companion-name", "Elena Popescu")
TX_HASH = 66  # "0x" and 64 hex digits


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        """The one JSON object a successful ``--json`` command prints, and nothing else."""
        assert self.code == 0, f"tutela {' '.join(self.args)} failed: {self.stderr}"
        lines = self.stdout.splitlines()
        assert len(lines) == 1, f"expected one line on stdout, got {self.stdout!r}"
        value = json.loads(lines[0])
        assert isinstance(value, dict)
        return value

    def text(self) -> str:
        assert self.code == 0, f"tutela {' '.join(self.args)} failed: {self.stderr}"
        return self.stdout

    def refusal_problems(self, expected: str) -> list[str]:
        """How this run falls short of the README's promise for an error, if it does.

        An error is a non-zero exit, nothing on stdout and exactly one line on stderr,
        ``error: ...`` holding ``expected``, never a traceback.
        """
        problems = []
        if self.code == 0:
            problems.append("exited 0")
        if self.stdout:
            problems.append(f"printed on stdout: {self.stdout!r}")
        if "Traceback" in self.stderr:
            problems.append("printed a traceback")
        lines = self.stderr.splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            problems.append(f"stderr is not one 'error:' line: {self.stderr!r}")
        elif expected not in lines[0]:
            problems.append(f"stderr does not say {expected!r}: {self.stderr!r}")
        return [f"tutela {' '.join(self.args)}: {problem}" for problem in problems]

    def assert_refused(self, expected: str) -> str:
        assert self.refusal_problems(expected) == []
        return self.stderr.strip()


def approve(request: str, document: str) -> tuple[str, ...]:
    """A guardian's approval; the secret (PIN, password or activation code) comes on stdin."""
    return (
        "crossing", "decide", request, "--guardian-document", document, "--approve",
        "--secret-stdin",
    )  # fmt: skip


def tutela(*args: str | Path, stdin: str = "") -> Result:
    """Runs the command with ``stdin`` as its input (empty: a prompt would find none)."""
    arguments = tuple(str(a) for a in args)
    done = subprocess.run(
        [str(TUTELA), *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=180,
        check=False,
    )
    return Result(arguments, done.returncode, done.stdout, done.stderr)


def tutela_side_by_side(commands: Sequence[Sequence[str | Path]], stdin: str = "") -> list[Result]:
    """Runs independent commands at once: most of a command's time is its imports."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(lambda args: tutela(*args, stdin=stdin), commands))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chain_height(data_dir: Path) -> int:
    with open_embedded(data_dir) as session:
        return int(Web3(session.provider).eth.block_number)


@dataclass(frozen=True)
class Prepared:
    """An initialised folder: staff of every role, Maria with both parents, and a request
    for her exit with her father (pending: his own approval will not count)."""

    data_dir: Path
    card: str
    request: str
    codes: dict[str, str]  # the parents' activation codes, by document


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    # Made in process: what is under test here is the command, not how this folder came to be.
    data_dir = tmp_path_factory.mktemp("prepared") / "data"
    settings = load_settings(data_dir, None, {"TUTELA_KEYSTORE_WORK_FACTOR": "1024"})
    initialise(settings)
    with open_tutela(settings) as tutela_:
        for name, role in STAFF:
            staff.add_staff(tutela_, name, role)
        child = children.enrol_child(
            tutela_,
            given_name="Maria",
            family_name="Popescu",
            birth_date="2016-04-12",
            birth_place="Chișinău",
            guardian_specs=[FATHER, MOTHER],
        )
        request = crossings.request_crossing(
            tutela_,
            child.card,
            direction="exit",
            border_point="MD-LEUSENI",
            companion_name="Ion Popescu",
            companion_document=FATHER_DOCUMENT,
        )
    codes = {c.document: c.code for c in child.activation_codes}
    return Prepared(data_dir=data_dir, card=child.card, request=str(request.request), codes=codes)


@pytest.fixture
def own_copy(prepared: Prepared, tmp_path: Path) -> Path:
    """A copy of the prepared folder for a test that changes it."""
    copy = tmp_path / "data"
    shutil.copytree(prepared.data_dir, copy)
    return copy


def test_the_whole_story_with_json_at_every_step(tmp_path: Path) -> None:
    d = ("--data-dir", tmp_path / "data")
    init = tutela("init", "--json", *d).json()["init"]
    assert init["embedded"] is True
    assert init["data_dir"] == str(tmp_path / "data")
    assert init["registry_address"].startswith("0x")
    assert init["ledger_address"].startswith("0x")
    for name, role in STAFF:
        added = tutela("staff", "add", name, "--role", role, "--json", *d).json()["staff"]
        assert (added["name"], added["role"]) == (name, role)

    enrolled = tutela(
        "child", "enrol", *CHILD, "--guardian", FATHER, "--guardian", MOTHER, "--json", *d
    ).json()
    card, child_id = enrolled["card"], enrolled["child_id"]
    codes = {c["document"]: c["code"] for c in enrolled["activation_codes"]}
    assert sorted(codes) == sorted([FATHER_DOCUMENT, MOTHER_DOCUMENT])
    assert all(len(code) == len("XXXX-XXXX-XXXX-XXXX") for code in codes.values())
    assert card == format_card(card)
    assert child_id.startswith("0x")
    assert len(child_id) == 34
    child = tutela("child", "show", card, "--json", *d).json()["child"]
    assert (child["given_name"], child["family_name"]) == ("Maria", "Popescu")
    assert (child["birth_date"], child["birth_place"]) == ("2016-04-12", "Chișinău")
    assert [g["name"] for g in child["guardians"]] == ["Ion Popescu", "Elena Popescu"]
    assert [g["document"] for g in child["guardians"]] == [FATHER_DOCUMENT, MOTHER_DOCUMENT]
    assert (child["card"], child["child_id"]) == (card, child_id)
    assert (child["status"], child["policy"]) == ("active", "any")

    # The father travels with her; his document is typed as the officer reads it aloud.
    asked = tutela(
        "crossing", "request", card, *EXIT, "--companion-document", "md 0912 3345", "--json", *d
    ).json()
    number = str(asked["request"])
    assert asked["status"] == "pending"
    assert asked["crossing"]["companion_is_guardian"] is True

    father = tutela(
        *approve(number, FATHER_DOCUMENT), "--json", *d, stdin=codes[FATHER_DOCUMENT] + "\n"
    ).json()
    assert father["decision"]["counted"] is False
    assert father["status"] == "pending"
    refused = tutela("crossing", "record", number, "--outcome", "crossed", "--json", *d)
    refused.assert_refused("not approved")

    # The mother activates her account first, then decides with her PIN.
    activated = tutela(
        "guardian", "activate", "--document", "md-0877-1290",
        "--code", codes[MOTHER_DOCUMENT].lower().replace("-", ""),
        "--password-stdin", "--json", *d,
        stdin="a long walk by the river Prut\n406213\n",
    ).json()["account"]  # fmt: skip
    assert activated["activated"] is True
    assert activated["address"] == child["guardians"][1]["address"]
    mother = tutela(*approve(number, MOTHER_DOCUMENT), "--json", *d, stdin="406213\n").json()
    assert mother["decision"]["counted"] is True
    assert mother["status"] == "approved"
    recorded = tutela("crossing", "record", number, "--outcome", "crossed", "--json", *d).json()
    assert recorded["status"] == "crossed"
    assert tutela("crossing", "show", number, "--json", *d).json()["status"] == "crossed"

    (entry,) = tutela("history", card, "--json", *d).json()["crossings"]
    assert (entry["request"], entry["direction"], entry["border_point"]) == (
        int(number),
        "exit",
        "MD-LEUSENI",
    )
    assert (entry["status"], entry["outcome"]) == ("crossed", "crossed")
    assert [(e["event"], e["approved"], e["counted"], e["tx"]) for e in entry["decisions"]] == [
        ("GuardianDecided", True, False, father["decision"]["tx_hash"]),
        ("GuardianDecided", True, True, mother["decision"]["tx_hash"]),
    ]
    hashes = [entry["request_tx"], entry["outcome_tx"], *(e["tx"] for e in entry["decisions"])]
    assert all(h.startswith("0x") and len(h) == TX_HASH for h in hashes)
    assert len(set(hashes)) == 4

    grandmother = "Vera Popescu;MD-5550-0001;vera.popescu@example.org;+373 69 555 001"
    added_json = tutela("guardian", "add", card, grandmother, "--json", *d).json()
    added = added_json["child"]
    assert [g["document"] for g in added["guardians"]][-1] == "MD55500001"
    assert added["guardians"][-1]["phone"] == "+37369555001"
    assert [c["document"] for c in added_json["activation_codes"]] == ["MD55500001"]

    # The registry sees the mother in person again (she lost her phone): a new key and code;
    # her old PIN no longer opens anything.
    reverified = tutela("guardian", "reverify", card, "--document", MOTHER_DOCUMENT, *d).text()
    assert "activation code (shown only this once): " in reverified
    new_code = reverified.split("activation code (shown only this once): ")[1].split()[0]
    assert len(new_code) == len("XXXX-XXXX-XXXX-XXXX")
    assert new_code != codes[MOTHER_DOCUMENT]
    moved = tutela("child", "show", card, "--json", *d).json()["child"]["guardians"]
    [mother_now] = [g for g in moved if g["document"] == MOTHER_DOCUMENT]
    assert mother_now["address"] != child["guardians"][1]["address"]
    removed = tutela("guardian", "remove", card, "md 5550 0001", "--json", *d).json()["child"]
    assert [g["document"] for g in removed["guardians"]] == [FATHER_DOCUMENT, MOTHER_DOCUMENT]

    revoked = tutela("child", "revoke", card, "--reason", "enrolled twice", "--json", *d).json()
    assert revoked["child"]["status"] == "revoked"
    # The same request within the same minute would be the same action (and be reported);
    # a new key makes it a new one, which the revoked record refuses.
    again = tutela(
        "crossing",
        "request",
        card,
        *EXIT,
        "--companion-document",
        FATHER_DOCUMENT,
        "--idempotency-key",
        "after-revocation",
        "--json",
        *d,
    )
    again.assert_refused("revoked")
    assert card in again.stderr, "the message names the card the officer typed"


def test_options_go_before_or_after_the_sub_command_and_text_reads_well(
    prepared: Prepared,
) -> None:
    d, card, number = prepared.data_dir, prepared.card, prepared.request
    before, after, mixed, child_text, crossing_text, history_text = tutela_side_by_side(
        [
            ("--json", "--data-dir", d, "child", "show", card),
            ("child", "show", card, "--json", "--data-dir", d),
            ("--data-dir", d, "crossing", "show", number, "--json"),
            ("child", "show", card, "--data-dir", d),
            ("--data-dir", d, "crossing", "show", number),
            ("history", card, "--data-dir", d),
        ]
    )
    assert before.json() == after.json()
    assert before.json()["child"]["card"] == card
    assert mixed.json()["status"] == "pending"

    assert child_text.text().splitlines()[:3] == [
        f"card {card}  (active)",
        "  Maria Popescu, born 2016-04-12 in Chișinău",
        "  policy: any",
    ]
    assert "Elena Popescu (MD08771290" in child_text.text()
    shown = crossing_text.text()
    assert f"request {number}: exit of card {card} at MD-LEUSENI is pending" in shown
    assert "companion is a guardian" in shown
    assert history_text.text().startswith(f"#{number} exit at MD-LEUSENI: pending (block ")


class Node:
    """``tutela node`` in the background, as an operator starts it."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        port = free_port()
        with log.open("a") as stderr:
            self.process = subprocess.Popen(
                [str(TUTELA), "node", "--port", str(port), "--data-dir", str(data_dir), "--json"],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=ENV,
            )
        self.url = ready_line(self.process, log, self.stop)["url"]
        assert self.url == f"http://127.0.0.1:{port}"

    def stop(self, sig: int) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


@contextmanager
def running_node(data_dir: Path, log: Path) -> Iterator[Node]:
    node = Node(data_dir, log)
    try:
        yield node
    finally:
        node.stop(signal.SIGKILL)  # a no-op when the test stopped it already


def test_commands_use_a_running_node_and_kill_9_loses_nothing(
    prepared: Prepared, own_copy: Path, tmp_path: Path
) -> None:
    d, card, number = ("--data-dir", own_copy), prepared.card, prepared.request
    log = tmp_path / "node.log"
    with running_node(own_copy, log) as node:
        assert json.loads((own_copy / NODE_FILE).read_text()) == {
            "url": node.url,
            "pid": node.process.pid,
        }
        # The node holds the chain's lock, so these can only succeed through it (-v says so).
        mother = prepared.codes[MOTHER_DOCUMENT]
        decided = tutela("-v", *approve(number, MOTHER_DOCUMENT), "--json", *d, stdin=mother)
        recorded = tutela("-v", "crossing", "record", number, "--outcome", "crossed", "--json", *d)
        entry = tutela(
            "-v", "crossing", "request", card, *ENTRY, "--companion-document", MOTHER_DOCUMENT,
            "--json", *d,
        )  # fmt: skip
        for run in (decided, recorded, entry):
            assert f"using the node at {node.url}" in run.stderr
        assert decided.json()["status"] == "approved"
        assert recorded.json()["status"] == "crossed"
        assert entry.json()["status"] == "approved"  # entries need no approval
        height = Web3(HTTPProvider(node.url)).eth.block_number
        assert node.stop(signal.SIGKILL) == -signal.SIGKILL
    assert (own_copy / NODE_FILE).exists()  # stale: nobody could remove it

    history, shown = tutela_side_by_side(
        [("-v", "history", card, "--json", *d), ("crossing", "show", number, "--json", *d)]
    )
    assert "using the node" not in history.stderr  # the CLI opened the chain itself
    crossed, came_back = history.json()["crossings"]
    assert (crossed["request"], crossed["outcome"]) == (int(number), "crossed")
    assert crossed["decisions"][-1]["tx"] == decided.json()["decision"]["tx_hash"]
    assert (came_back["direction"], came_back["border_point"]) == ("entry", "RO-ALBITA")
    assert shown.json()["status"] == "crossed"
    assert chain_height(own_copy) == height

    with running_node(own_copy, log) as again:
        w3 = Web3(HTTPProvider(again.url))
        assert w3.eth.block_number == height
        for tx in (crossed["decisions"][-1]["tx"], crossed["outcome_tx"], came_back["request_tx"]):
            assert w3.eth.get_transaction_receipt(tx)["status"] == 1
        through = tutela("-v", "crossing", "show", number, "--json", *d)
        assert f"using the node at {again.url}" in through.stderr
        assert through.json()["status"] == "crossed"
        assert again.stop(signal.SIGTERM) == 0
    assert not (own_copy / NODE_FILE).exists()


def fingerprint(data_dir: Path) -> tuple[object, ...]:
    """Everything a refused command must leave alone: chain, store, secrets, configuration."""
    store = sqlite3.connect(data_dir / "tutela.sqlite3")
    try:
        rows = list(store.iterdump())
    finally:
        store.close()
    files = sorted(
        (p.relative_to(data_dir).as_posix(), p.read_bytes())
        for p in [data_dir / "config.json", *(data_dir / "secrets").iterdir()]
    )
    return chain_height(data_dir), rows, files


def test_bad_input_is_one_line_on_stderr_and_changes_nothing(
    prepared: Prepared, tmp_path: Path
) -> None:
    d, card, number = ("--data-dir", prepared.data_dir), prepared.card, prepared.request
    mistyped = card[:-1] + str((int(card[-1]) + 1) % 10)
    stranger = format_card("123456789" + damm_check_digit("123456789"))
    assert stranger != card
    in_two_days = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    never = tmp_path / "never-initialised"
    lungu = ("--family-name", "Lungu", "--birth-place", "Orhei")
    vera = ("--guardian", "Vera Lungu;MD-2222-3333;vera.lungu@example.org")
    ion = ("--guardian", "Ion Lungu;MD-2222-4444;ion.lungu@example.org")
    enrol = ("child", "enrol", "--given-name", "Ana", *lungu, *d)
    cases: list[tuple[tuple[str | Path, ...], str]] = [
        (("child", "show", stranger, *d), f"no child has card number {stranger}"),
        (("child", "show", mistyped, *d), "check digit does not match"),
        (("history", mistyped, "--json", *d), "check digit does not match"),
        ((*enrol, "--birth-date", "12/04/2015", *vera), "birth date must be written YYYY-MM-DD"),
        ((*enrol, "--birth-date", in_two_days, *vera), "birth date is in the future"),
        (
            ("child", "enrol", "--given-name", "", *lungu, "--birth-date", "2015-06-01", *vera, *d),
            "given name is empty",
        ),
        (
            (*enrol, "--birth-date", "2015-06-01", "--guardian", "Vera Lungu;MD-2222-3333"),
            "NAME;DOCUMENT;EMAIL",
        ),
        ((*enrol, "--birth-date", "2015-06-01", *vera, "--policy", "most"), "unknown policy"),
        ((*enrol, "--birth-date", "2015-06-01", *vera, *ion, "--policy", "3-of-2"), "3-of-2"),
        (
            (*enrol, "--birth-date", "2015-06-01", *vera, "--as", "Victor Lungu"),
            "Victor Lungu is a border-officer, not a registrar: registrar needed",
        ),
        (
            (*approve("999", MOTHER_DOCUMENT), *d),
            "there is no crossing request 999",
        ),
        (
            ("crossing", "record", "abc", "--outcome", "crossed", *d),
            "'abc' is not a request number",
        ),
        (
            (*approve(number, "RO-1234-5678"), *d),
            "no current guardian of this child has that document",
        ),
        (
            ("staff", "add", "Ana Rusu", "--role", "investigator", "--json", *d),
            "there is already a staff member called 'Ana Rusu'",
        ),
        (("init", *d), "is initialised already"),
        (("staff", "list", "--data-dir", never), "run 'tutela init' first"),
    ]
    usage = ("crossing", "request", card, "--direction", "up", "--border-point", "MD-LEUSENI",
             "--companion-name", "Ion Popescu", "--companion-document", "X1", *d)  # fmt: skip

    before = fingerprint(prepared.data_dir)
    # A secret on stdin for the decisions: they must be refused before it is ever tried.
    *results, misuse = tutela_side_by_side(
        [*(args for args, _ in cases), usage], stdin=prepared.codes[MOTHER_DOCUMENT] + "\n"
    )
    problems = [
        problem
        for (_, expected), result in zip(cases, results, strict=True)
        for problem in result.refusal_problems(expected)
    ]
    assert problems == []
    # A usage error is one line too, exits 2, and points at the command's help.
    assert (misuse.code, misuse.stdout) == (2, "")
    assert misuse.stderr.splitlines() == [
        "error: Invalid value for '--direction': 'up' is not one of 'exit', 'entry'. "
        "(see 'tutela crossing request --help')"
    ]

    assert fingerprint(prepared.data_dir) == before
    assert not never.exists()
    people, child, request = tutela_side_by_side(
        [
            ("staff", "list", "--json", *d),
            ("child", "show", card, "--json", *d),
            ("crossing", "show", number, "--json", *d),
        ]
    )
    assert [m["name"] for m in people.json()["staff"]] == ["admin", "relayer", "anchorer"] + [
        name for name, _ in STAFF
    ]
    assert len(child.json()["child"]["guardians"]) == 2
    assert (request.json()["status"], request.json()["crossing"]["approvals"]) == ("pending", 0)


def test_a_decision_on_an_expired_request_is_refused(prepared: Prepared, own_copy: Path) -> None:
    d = ("--data-dir", own_copy)
    asked = tutela(
        "crossing", "request", prepared.card, *EXIT, "--companion-document", "RO-7",
        "--expires-in", "1", "--json", *d,
    ).json()  # fmt: skip
    number = str(asked["request"])
    with open_embedded(own_copy) as session:
        assert session.url is None  # no node runs: the chain is opened in this process
        for method, params in (("evm_increaseTime", [120]), ("evm_mine", [])):
            assert "error" not in session.provider.make_request(method, params)
    refused = tutela(*approve(number, MOTHER_DOCUMENT), *d, stdin=prepared.codes[MOTHER_DOCUMENT])
    refused.assert_refused("expired")
    shown = tutela("crossing", "show", number, "--json", *d).json()
    assert shown["status"] == "expired"
    assert (shown["crossing"]["approvals"], shown["crossing"]["guardian_approved"]) == (0, False)


def test_init_on_a_node_that_does_not_answer_leaves_no_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "remote"
    closed = f"http://127.0.0.1:{free_port()}"
    failed = tutela("init", "--chain", closed, "--data-dir", data_dir)
    failed.assert_refused(f"the node at {closed} is not answering")
    assert not data_dir.exists(), f"a failed init left {sorted(os.listdir(data_dir))}"


def test_demo_runs_the_story_in_a_fresh_folder(tmp_path: Path) -> None:
    demo = tutela("demo", "--json", "--data-dir", tmp_path / "demo").json()
    steps = demo["steps"]
    refusals = [s["refused"] for s in steps if "refused" in s]
    assert len(refusals) == 1
    assert "not approved" in refusals[0]
    statuses = [s["status"] for s in steps if "status" in s]
    assert statuses == ["pending", "pending", "approved", "crossed"]
    (history,) = steps[-1]["crossings"]
    assert "exit at MD-LEUSENI: crossed, 2 decisions" in history
