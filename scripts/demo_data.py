"""A realistic demo population in a new data folder, with the risk patterns planted in it.

    .venv/bin/python scripts/demo_data.py --data-dir /tmp/tutela-demo
    .venv/bin/python scripts/demo_data.py --data-dir /tmp/small --size 40 --planted 1 --seed 9

The folder is initialised with its embedded chain a year behind the wall clock; a year of
families' crossings is written into that past through the services, and the chain is left
on the wall clock. What was planted (indicator key -> subjects) goes to
``demo-planted.json`` in the folder. ``tutela serve --data-dir DIR`` then serves it (the
population's guardians have no logins; add ``--demo`` to a fresh folder for sample logins
as well).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ledger_client.demo_population import (
    DEFAULT_PLANTED,
    DEFAULT_SEED,
    DEFAULT_SIZE,
    HISTORY,
    build_population,
)
from ledger_client.errors import TutelaError
from ledger_client.services.context import open_tutela
from ledger_client.services.setup import initialise
from ledger_client.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="A new data folder.")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="The random seed.")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="How many children.")
    parser.add_argument(
        "--planted", type=int, default=DEFAULT_PLANTED, help="Subjects of each pattern."
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    settings = load_settings(args.data_dir, None)
    try:
        if settings.initialised:
            raise TutelaError(f"{args.data_dir} is in use: the population needs a new folder")
        initialise(settings, time_offset=-HISTORY)
        with open_tutela(settings) as tutela:
            result = build_population(
                tutela, seed=args.seed, size=args.size, planted=args.planted, echo=print
            )
    except TutelaError as error:
        print(f"demo_data: {error}", file=sys.stderr)
        return 1
    print(
        f"Made {result.children} children in {result.families} families, "
        f"{result.guardians} guardians with keys, {result.requests} crossing requests "
        f"({result.steps} steps from {result.first_at:%Y-%m-%d} to {result.last_at:%Y-%m-%d}) "
        f"in {result.seconds:.0f} s, in {settings.data_dir}."
    )
    print(f"{result.notifications_silenced} notifications of the history marked not to be sent.")
    counts = ", ".join(f"{key}: {len(found)}" for key, found in result.planted.items())
    print(f"Planted ({counts}); ground truth in {result.planted_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
