"""Gas of Tutela's ledger operations, measured from real receipts.

    .venv/bin/python scripts/bench/gas.py            # on a fresh anvil (default)
    .venv/bin/python scripts/bench/gas.py --embedded # on the embedded py-evm chain
    .venv/bin/python scripts/bench/gas.py --json

Goals (issue 2): a child with two guardians registered for at most 120,000 gas, at most
80,000 per child in a batch of 100, a whole exit crossing (request, one signed approval,
record) at most 150,000 together.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger_client.chain.anvil import DEV_PRIVATE_KEY, running_anvil
from ledger_client.contracts.typed_data import decision_message
from ledger_client.contracts.types import ChildId, Direction, Outcome, PolicyKind
from ledger_client.contracts.wrappers import GuardianKey, Policy
from ledger_client.keys import LocalSigner
from ledger_client.services import staff
from ledger_client.services.context import Tutela, open_tutela, staff_acting_as
from ledger_client.services.setup import initialise
from ledger_client.settings import load_settings
from ledger_client.store.models import StaffRole

BATCH = 100
GOALS = {
    "registerChild (2 guardians)": 120_000,
    f"registerChildren, per child (batch of {BATCH})": 80_000,
    "exit crossing: request + signed approval + record": 150_000,
}


@contextmanager
def bench_tutela(embedded: bool) -> Iterator[Tutela]:
    os.environ.setdefault("TUTELA_KEYSTORE_WORK_FACTOR", "1024")
    with tempfile.TemporaryDirectory(prefix="tutela-gas-") as folder:
        if embedded:
            settings = load_settings(Path(folder))
            initialise(settings)
            with open_tutela(settings) as tutela:
                yield tutela
            return
        with running_anvil() as url:
            os.environ["TUTELA_FUNDER_PRIVATE_KEY"] = DEV_PRIVATE_KEY
            settings = load_settings(Path(folder), url)
            initialise(settings)
            with open_tutela(settings) as tutela:
                yield tutela


def guardians(count: int) -> list[tuple[LocalSigner, GuardianKey]]:
    made = []
    for _ in range(count):
        signer = LocalSigner.from_key(secrets.token_bytes(32))
        made.append((signer, GuardianKey(signer.address, secrets.token_bytes(32))))
    return made


def measure(tutela: Tutela) -> dict[str, int]:
    staff.add_staff(tutela, "registrar", "registrar")
    staff.add_staff(tutela, "officer", "border-officer")
    staff.add_staff(tutela, "protector", "child-protection")
    with tutela.database.transaction() as session:
        registrar = tutela.sender_for(staff_acting_as(session, StaffRole.REGISTRAR, None))
        officer = tutela.sender_for(staff_acting_as(session, StaffRole.BORDER_OFFICER, None))
        protector = tutela.sender_for(staff_acting_as(session, StaffRole.CHILD_PROTECTION, None))
        relayer = tutela.sender_for(staff_acting_as(session, StaffRole.RELAYER, None))
    registry, ledger = tutela.registry, tutela.ledger
    figures: dict[str, int] = {}

    pair = guardians(2)
    child = ChildId(secrets.token_bytes(16))
    receipt = registrar.transact(
        registry.register_child(
            child, secrets.token_bytes(32), [g for _, g in pair], Policy(PolicyKind.ANY)
        )
    )
    figures["registerChild (2 guardians)"] = receipt["gasUsed"]

    batch = [
        (
            ChildId(secrets.token_bytes(16)),
            secrets.token_bytes(32),
            [g for _, g in guardians(2)],
            Policy(PolicyKind.ANY),
        )
        for _ in range(BATCH)
    ]
    receipt = registrar.transact(registry.register_children(batch))
    figures[f"registerChildren, per child (batch of {BATCH})"] = receipt["gasUsed"] // BATCH

    def open_request(companion: bytes) -> tuple[int, int]:
        expires = tutela.chain_time() + 3600
        receipt = officer.transact(
            ledger.request_crossing(child, Direction.EXIT, "MD-LEUSENI", companion, expires)
        )
        return ledger.request_id_from(receipt), receipt["gasUsed"]

    def signed(request_id: int, signer: LocalSigner, approve: bool) -> int:
        deadline = tutela.chain_time() + 600
        message = decision_message(
            chain_id=tutela.chain_id,
            ledger_address=ledger.address,
            request_id=request_id,
            guardian=signer.address,
            approve=approve,
            deadline=deadline,
        )
        signature = signer.sign_typed_data(message)
        receipt = relayer.transact(
            ledger.decide_by_sig(request_id, signer.address, approve, deadline, signature)
        )
        return int(receipt["gasUsed"])

    request_id, request_gas = open_request(secrets.token_bytes(32))
    figures["requestCrossing (exit)"] = request_gas
    approve_gas = signed(request_id, pair[1][0], True)
    figures["decideBySig (approval, final)"] = approve_gas
    record_gas = officer.transact(ledger.record_outcome(request_id, Outcome.CROSSED))["gasUsed"]
    figures["recordOutcome (crossed)"] = record_gas
    figures["exit crossing: request + signed approval + record"] = (
        request_gas + approve_gas + record_gas
    )

    # The family rule: the companion is the first guardian, whose approval is set aside.
    request_id, _ = open_request(pair[0][1].document_commitment)
    figures["decideBySig (companion guardian, set aside)"] = signed(request_id, pair[0][0], True)
    figures["protectionDecide (co-approval)"] = protector.transact(
        ledger.protection_decide(request_id, True)
    )["gasUsed"]

    request_id, _ = open_request(secrets.token_bytes(32))
    figures["decideBySig (denial)"] = signed(request_id, pair[1][0], False)
    figures["overrideByCourtOrder"] = protector.transact(
        ledger.override_by_court_order(request_id, secrets.token_bytes(32))
    )["gasUsed"]
    figures["recordOutcome (turned back)"] = officer.transact(
        ledger.record_outcome(request_id, Outcome.TURNED_BACK)
    )["gasUsed"]

    extra = guardians(1)[0][1]
    figures["addGuardian"] = registrar.transact(registry.add_guardian(child, extra))["gasUsed"]
    figures["removeGuardian"] = registrar.transact(registry.remove_guardian(child, extra.account))[
        "gasUsed"
    ]
    figures["revokeChild"] = registrar.transact(registry.revoke_child(batch[0][0], 1))["gasUsed"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--embedded", action="store_true", help="measure on the embedded py-evm chain"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with bench_tutela(args.embedded) as tutela:
        figures = measure(tutela)
    chain = "embedded py-evm" if args.embedded else "anvil 1.5.1"
    failed = [name for name, goal in GOALS.items() if figures[name] > goal]
    if args.json:
        print(
            json.dumps(
                {"chain": chain, "gas": figures, "goals": GOALS, "over_goal": failed}, indent=2
            )
        )
    else:
        print(f"Gas used, from receipts on {chain}\n")
        print(f"{'operation':55} {'gas':>9} {'goal':>9}")
        for name, gas in figures.items():
            goal = GOALS.get(name)
            mark = "" if goal is None else (" ok" if gas <= goal else " OVER")
            print(f"{name:55} {gas:>9,} {goal or '':>9}{mark}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
