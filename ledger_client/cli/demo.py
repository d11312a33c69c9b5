"""``tutela demo``: the whole story on a fresh embedded chain, narrated step by step."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from ledger_client.cli.main import Context
from ledger_client.cli.output import emit
from ledger_client.errors import ConfigurationError, ContractRevertError
from ledger_client.services import children, crossings, guardians, staff
from ledger_client.services.context import open_tutela
from ledger_client.services.setup import initialise
from ledger_client.settings import load_settings

FATHER = "Ion Popescu;MD-0912-3345;ion.popescu@example.org"
MOTHER = "Elena Popescu;MD-0877-1290;elena.popescu@example.org;+373 69 123 456"
FATHER_DOCUMENT, MOTHER_DOCUMENT = "MD09123345", "MD08771290"
# The demo plays the mother at her phone; a real guardian chooses her own.
MOTHER_PASSWORD = "a long walk along the Nistru"  # noqa: S105 - a demo's made-up secret
MOTHER_PIN = "270419"


def run_demo(obj: Context) -> None:
    """Runs the story in the given data folder, or in a new temporary one.

    Raises:
        ConfigurationError: the data folder given is initialised already.
    """
    folder = obj.data_dir or Path(tempfile.mkdtemp(prefix="tutela-demo-"))
    settings = load_settings(folder, obj.chain_url)
    if settings.initialised:
        raise ConfigurationError(f"the demo needs a fresh data folder; {folder} is in use")
    steps: list[dict[str, Any]] = []

    def say(text: str, **facts: Any) -> None:
        steps.append({"step": text, **facts})
        if not obj.as_json:
            click.echo(f"\n{len(steps):>2}. {text}")
            for key, value in facts.items():
                click.echo(f"      {key}: {value}")

    result = initialise(settings)
    say(
        "The administrator initialises Tutela: secrets, keys, and both contracts deployed.",
        data_dir=result.data_dir,
        chain=result.chain_id,
        registry=result.registry_address,
        ledger=result.ledger_address,
    )
    with open_tutela(settings) as tutela:
        for name, role in (
            ("Ana Rusu", "registrar"),
            ("Victor Lungu", "border-officer"),
            ("Doina Cebotari", "child-protection"),
        ):
            member = staff.add_staff(tutela, name, role)
            say(
                f"The administrator adds {name} as {role}; the role is granted on chain.",
                address=member.address,
            )
        child = children.enrol_child(
            tutela,
            given_name="Maria",
            family_name="Popescu",
            birth_date="2016-04-12",
            birth_place="Chișinău",
            guardian_specs=[FATHER, MOTHER],
            policy="any",
        )
        say(
            "The registrar enrols Maria with two guardians, her father and her mother. "
            "The chain receives only an opaque id and keyed commitments. Each parent gets a "
            "key of their own, under a one-time activation code handed to them in person.",
            card=child.card,
            child_id=child.child_id,
            policy=child.policy,
            activation_codes=len(child.activation_codes),
        )
        codes = {c.document: c.code for c in child.activation_codes}
        guardians.activate_guardian(
            tutela,
            document=MOTHER_DOCUMENT,
            code=codes[MOTHER_DOCUMENT],
            password=MOTHER_PASSWORD,
            pin=MOTHER_PIN,
        )
        say(
            "The mother activates her account: she chooses a password and a PIN, and her key "
            "is encrypted again under each; the code no longer opens it, and Tutela cannot.",
        )
        request = crossings.request_crossing(
            tutela,
            child.card,
            direction="exit",
            border_point="MD-LEUSENI",
            companion_name="Ion Popescu",
            companion_document="MD09123345",
        )
        say(
            "At the Leușeni border the officer asks for Maria's exit with her father.",
            request=request.request,
            status=request.status,
            companion_is_guardian=request.companion_is_guardian,
        )
        father = crossings.decide_as_guardian(
            tutela,
            str(request.request),
            guardian_document=FATHER_DOCUMENT,
            approve=True,
            secret=codes[FATHER_DOCUMENT],
        )
        say(
            "The father, not activated yet, approves with the signature his activation code "
            "unlocks. He travels with the child, so the family rule sets his approval aside.",
            counted=father.counted,
            status=father.status,
        )
        try:
            crossings.record_outcome(tutela, str(request.request), outcome="crossed")
        except ContractRevertError as refused:
            say("The officer tries to let Maria through; the ledger refuses.", refused=str(refused))
        mother = crossings.decide_as_guardian(
            tutela,
            str(request.request),
            guardian_document=MOTHER_DOCUMENT,
            approve=True,
            secret=MOTHER_PIN,
        )
        say(
            "The mother, at home, approves with her PIN; her signature is relayed to the chain.",
            counted=mother.counted,
            status=mother.status,
            tx=mother.tx_hash,
        )
        done = crossings.record_outcome(tutela, str(request.request), outcome="crossed")
        say("The officer records the crossing.", status=done.status)
    with open_tutela(settings) as reopened:
        entries = crossings.history(reopened, child.card)
        blocks = reopened.w3.eth.block_number
    say(
        "The chain is closed and opened again from disk; Maria's history is read from its events.",
        blocks=blocks,
        crossings=[
            f"#{e.request} {e.direction} at {e.border_point}: {e.outcome}, "
            f"{len(e.decisions)} decisions, tx {e.request_tx}"
            for e in entries
        ],
    )
    emit(
        obj.as_json,
        {"steps": steps, "data_dir": str(settings.data_dir)},
        lambda: f"\nData folder: {settings.data_dir}",
    )
