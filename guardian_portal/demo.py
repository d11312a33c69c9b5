"""``tutela serve --demo``: sample staff, guardians and children, and how to log in as each;
then a realistic population with a year of crossings (``ledger_client.demo_population``).

The logins are printed and written to ``demo-logins.json`` in the data folder, so a tester
(or the browser tests) can pick them up. Demo passwords are long random words, never fixed
strings: a demo folder left running on a network is not an open door.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Callable
from typing import Any

from ledger_client import demo_population
from ledger_client.errors import ConfigurationError, ConflictError
from ledger_client.services import accounts, children, guardians, staff
from ledger_client.services.context import Tutela, open_tutela
from ledger_client.settings import Settings

STAFF = (
    ("Ana Rusu", "registrar"),
    ("Victor Lungu", "border-officer"),
    ("Doina Cebotari", "child-protection"),
    ("Radu Ciobanu", "investigator"),
    ("Silvia Moraru", "auditor"),
)
CHILDREN = (
    {
        "given_name": "Maria",
        "family_name": "Popescu",
        "birth_date": "2016-04-12",
        "birth_place": "Chișinău",
        "guardian_specs": [
            "Ion Popescu;MD-0912-3345;ion.popescu@example.org",
            "Elena Popescu;MD-0877-1290;elena.popescu@example.org",
        ],
        "policy": "any",
    },
    {
        "given_name": "Andrei",
        "family_name": "Ceban",
        "birth_date": "2013-09-30",
        "birth_place": "Bălți",
        "guardian_specs": ["Tatiana Ceban;MD-0455-2201;tatiana.ceban@example.org"],
        "policy": "any",
    },
)
# ``--demo-population``: children and planted subjects of each pattern; "small" starts in
# seconds, for the browser tests.
POPULATIONS: dict[str, tuple[int, int] | None] = {
    "full": (demo_population.DEFAULT_SIZE, demo_population.DEFAULT_PLANTED),
    "small": (24, 1),
    "none": None,
}
# One guardian is left to activate by hand, to show the activation page.
LEFT_FOR_ACTIVATION = "MD-0877-1290"
LOGINS_FILE = "demo-logins.json"


def prepare_demo(settings: Settings, population: str, echo: Callable[[str], None]) -> None:
    """The sample people, then (once per data folder) the population, before serving.

    Raises:
        ConfigurationError: an unknown population name.
    """
    if population not in POPULATIONS:
        raise ConfigurationError(f"unknown demo population {population!r}")
    with open_tutela(settings) as tutela:
        seed_demo(tutela, echo)
        populate(tutela, POPULATIONS[population], echo)


def populate(tutela: Tutela, shape: tuple[int, int] | None, echo: Callable[[str], None]) -> None:
    """Builds the population of ``shape`` (children, planted of each pattern) unless this
    data folder has it, or was not made with its chain a year back (then says why)."""
    if shape is None:
        return
    if not tutela.settings.embedded:
        echo("Demo population: skipped, its history needs the embedded chain.")
        return
    if demo_population.population_built(tutela):
        echo(f"Demo population: built already ({demo_population.PLANTED_FILE}).")
        return
    if not demo_population.has_history_room(tutela):
        if demo_population.resume_wall_clock(tutela):
            echo("Demo population: an earlier build was interrupted; the chain is back on the")
            echo("wall clock. Start from a new data folder for the whole population.")
        else:
            echo("Demo population: skipped, this data folder's chain did not start a year back")
            echo("(start `tutela serve --demo` on a new data folder to have it).")
        return
    size, planted = shape
    result = demo_population.build_population(tutela, size=size, planted=planted, echo=echo)
    echo(
        f"Demo population: {result.children} children, {result.requests} crossing requests "
        f"over the past year, built in {result.seconds:.0f} s; what was planted for the risk "
        f"indicators is in {result.planted_path.name}."
    )


def seed_demo(tutela: Tutela, echo: Callable[[str], None]) -> dict[str, Any]:
    """Creates the sample people once; a second run prints the logins kept from the first."""
    path = tutela.settings.data_dir / LOGINS_FILE
    if path.exists():
        logins: dict[str, Any] = json.loads(path.read_text())
        _print(logins, echo)
        return logins
    logins = {"staff": [], "guardians": [], "children": []}
    members = {m.name for m in staff.list_staff(tutela)}
    for name, role in STAFF:
        if name not in members:
            staff.add_staff(tutela, name, role)
        password = _password()
        accounts.set_staff_password(tutela, name, password, totp=False)
        logins["staff"].append({"role": role, "name": name, "password": password})
    for spec in CHILDREN:
        try:
            child = children.enrol_child(tutela, **spec)  # type: ignore[arg-type]
        except ConflictError:
            continue
        logins["children"].append({"card": child.card, "name": spec["given_name"]})
        for code in child.activation_codes:
            entry: dict[str, Any] = {"name": code.name, "document": code.document}
            if code.document.replace("-", "") == LEFT_FOR_ACTIVATION.replace("-", ""):
                entry["activation_code"] = code.code
            else:
                entry["password"] = _password()
                entry["pin"] = _pin()
                guardians.activate_guardian(
                    tutela,
                    document=code.document,
                    code=code.code,
                    password=entry["password"],
                    pin=entry["pin"],
                )
            logins["guardians"].append(entry)
    path.write_text(json.dumps(logins, indent=2, ensure_ascii=False) + "\n")
    path.chmod(0o600)
    _print(logins, echo)
    return logins


def _print(logins: dict[str, Any], echo: Callable[[str], None]) -> None:
    echo("Demo logins (also in demo-logins.json in the data folder):")
    for member in logins["staff"]:
        echo(
            f"  staff {member['role']:<16} name: {member['name']:<16} "
            f"password: {member['password']}"
        )
    for guardian in logins["guardians"]:
        if "activation_code" in guardian:
            echo(
                f"  guardian document: {guardian['document']:<14} activate at /guardian/activate "
                f"with code {guardian['activation_code']}"
            )
        else:
            echo(
                f"  guardian document: {guardian['document']:<14} password: {guardian['password']}"
                f"  PIN: {guardian['pin']}"
            )
    for child in logins["children"]:
        echo(f"  child {child['name']:<8} card: {child['card']}")


def _password() -> str:
    # Four random words' worth of entropy in a form easy to type on a phone.
    return "-".join(secrets.token_hex(3) for _ in range(4))


def _pin() -> str:
    while True:
        pin = f"{secrets.randbelow(10**6):06d}"
        digits = [int(c) for c in pin]
        steps = {b - a for a, b in itertools.pairwise(digits)}
        if len(set(pin)) > 1 and steps not in ({1}, {-1}):
            return pin
