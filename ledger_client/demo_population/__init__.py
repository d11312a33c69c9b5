"""A realistic demo population with the risk indicators' patterns planted in it.

``plan_population`` draws families, children and a year of crossings from a seed (pure
data); ``build_population`` carries the plan out on the chain through the services, in the
chain's past, and writes the ground truth of what was planted to ``demo-planted.json``.
"""

from ledger_client.demo_population.build import (
    DEFAULT_PLANTED,
    DEFAULT_SEED,
    DEFAULT_SIZE,
    HISTORY,
    PLANTED_FILE,
    PopulationResult,
    build_population,
    has_history_room,
    population_built,
    resume_wall_clock,
)
from ledger_client.demo_population.model import INDICATORS, SUBJECT_KINDS, Kind, Plan, Step
from ledger_client.demo_population.plan import plan_population

__all__ = [
    "DEFAULT_PLANTED",
    "DEFAULT_SEED",
    "DEFAULT_SIZE",
    "HISTORY",
    "INDICATORS",
    "PLANTED_FILE",
    "SUBJECT_KINDS",
    "Kind",
    "Plan",
    "PopulationResult",
    "Step",
    "build_population",
    "has_history_room",
    "plan_population",
    "population_built",
    "resume_wall_clock",
]
