"""Drawing a whole population from a seed: planted patterns, families, a year of trips."""

from __future__ import annotations

import random

from ledger_client.demo_population.background import add_background
from ledger_client.demo_population.model import DAY, Plan
from ledger_client.demo_population.planner import Planner
from ledger_client.demo_population.planted import near_thresholds, plant, plant_companions
from ledger_client.errors import InputError
from ledger_client.risk.thresholds import RiskThresholds

MAX_SIZE = 5_000
MAX_PLANTED = 50
# Children per family, as Moldova's households have them; a single parent has at most three
# (see the background's rules).
FAMILY_SIZES = ((1, 40), (2, 38), (3, 16), (4, 6))
SINGLE_PARENT_SHARE = 0.2
ALL_POLICY_SHARE = 0.08


def plan_population(
    *,
    seed: int,
    size: int,
    planted: int,
    start: int,
    end: int,
    thresholds: RiskThresholds | None = None,
) -> Plan:
    """A population of ``size`` children with each pattern planted ``planted`` times.

    Args:
        seed: the same seed, size and times give the same plan.
        size: how many children, planted patterns' included.
        planted: how many subjects of each of the seven indicators.
        start: unix time from which the year's history may start (after the genesis).
        end: unix time before which it ends (a little before now).
        thresholds: the indicators' rules to plant against (the defaults of issue 5).

    Raises:
        InputError: a size or count out of range, a span much shorter than a year, or too
            few children for the planted patterns.
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
        raise InputError(f"the population's size is a number of children from 1 to {MAX_SIZE}")
    if isinstance(planted, bool) or not isinstance(planted, int) or not 0 <= planted <= MAX_PLANTED:
        raise InputError(f"the planted count is from 0 to {MAX_PLANTED} of each pattern")
    if end - start < 300 * DAY:
        raise InputError("a demo population needs about a year of the chain's past")
    # Made-up people for a demo, reproducible from the seed: no secret is drawn from it.
    rng = random.Random(seed)  # noqa: S311
    p = Planner(rng, start, end, thresholds or RiskThresholds())
    plant(p, planted)
    # The background must lend pattern 1 its children from distinct families.
    needed = len(p.children) + 4 * (planted + 1)
    if size < needed:
        raise InputError(f"{planted} of each pattern need at least {needed} children; ask for more")
    while len(p.children) < size:
        single = rng.random() < SINGLE_PARENT_SHARE
        values, weights = zip(*FAMILY_SIZES, strict=True)
        kids = min(rng.choices(values, weights=weights)[0], size - len(p.children))
        if single:
            p.family(min(kids, 3), single=True)
        else:
            policy = "all" if rng.random() < ALL_POLICY_SHARE else "any"
            p.family(kids, policy=policy)
    plant_companions(p, planted)
    if size >= 100:
        near_thresholds(p)
    add_background(p)
    # A stable sort: steps at the same second keep the order they were planned in.
    steps = tuple(sorted(p.steps.items, key=lambda step: step.at))
    return Plan(
        start=start,
        end=end,
        people=dict(p.people),
        children=dict(p.children),
        steps=steps,
        planted={key: tuple(subjects) for key, subjects in p.planted.items()},
        families=len(p.families),
    )
