"""What a demo population is made of, as plain data: people, children, dated steps.

A plan is pure data, drawn from a seed; :mod:`ledger_client.demo_population.build` carries
it out through the services, one step at a time, each at its moment in the chain's past.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ledger_client.demo_population.people import Person

MINUTE = 60
HOUR = 3_600
DAY = 86_400

#: The seven indicators of issue 5, in their order; the keys of the ground truth.
INDICATORS = (
    "companion-unrelated-children",
    "frequent-crossings",
    "denied-then-elsewhere",
    "guardian-added-before-exit",
    "guardian-of-many",
    "exit-without-return",
    "family-rule-overridden",
)
#: What each indicator's subject is: a child id, or a person's document commitment.
SUBJECT_KINDS = {
    "companion-unrelated-children": "companion",
    "guardian-of-many": "guardian",
}


class Kind(StrEnum):
    """What a step does, each through its service (see ``build``)."""

    ENROL = "enrol"
    ADD_GUARDIAN = "add-guardian"
    REQUEST = "request"
    GUARDIAN = "guardian"
    PROTECTION = "protection"
    OVERRIDE = "override"
    OUTCOME = "outcome"


@dataclass(frozen=True)
class ChildPlan:
    key: str
    given: str
    family: str
    birth_date: str
    birth_place: str
    guardians: tuple[str, ...]  # person keys, in enrolment order
    policy: str
    enrol_at: int


@dataclass(frozen=True)
class Step:
    """One action at one moment. ``ticket`` names a crossing request within the plan."""

    at: int
    kind: Kind
    child: str
    ticket: str = ""
    person: str = ""  # the companion, the deciding guardian, or the guardian added
    direction: str = ""
    point: str = ""
    approve: bool = True
    outcome: str = ""


@dataclass(frozen=True)
class Plan:
    """A whole population: who, and what happens to them when, in time order."""

    start: int
    end: int
    people: Mapping[str, Person]
    children: Mapping[str, ChildPlan]
    steps: tuple[Step, ...]
    # Indicator key -> the planted subjects: child keys, or person keys for companions and
    # guardians (see SUBJECT_KINDS).
    planted: Mapping[str, tuple[str, ...]]
    families: int

    def count(self, kind: Kind, **fields: object) -> int:
        return sum(
            1
            for step in self.steps
            if step.kind == kind and all(getattr(step, k) == v for k, v in fields.items())
        )


@dataclass
class Family:
    """Children who share their guardians, and the relatives who travel with them."""

    key: str
    parents: list[Person]
    relatives: list[Person]
    children: list[str]
    policy: str = "any"
    trips: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Calendar:
    """What the background must leave alone in one child's year."""

    # No background trip may touch these spans: a planted pattern lives there.
    blocked: list[tuple[int, int]] = field(default_factory=list)
    # Times of child-protection co-approvals, kept under indicator 7's threshold.
    protection: list[int] = field(default_factory=list)

    def free(self, first: int, last: int) -> bool:
        return all(last < start or first > end for start, end in self.blocked)

    def block(self, first: int, last: int) -> None:
        self.blocked.append((first, last))


class Steps:
    """Collects steps and hands out request tickets; knows a crossing's usual timing."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.items: list[Step] = []
        self._tickets = 0

    def add(self, step: Step) -> None:
        self.items.append(step)

    def exit(
        self,
        at: int,
        child: str,
        point: str,
        companion: str,
        deciders: list[tuple[str, bool]],
        *,
        protection: bool = False,
        override: bool = False,
        outcome: str | None = "crossed",
    ) -> str:
        """An exit request and what follows it within its hour: guardians' decisions in
        order, a child-protection co-approval, a court-ordered override, the outcome.
        Returns the request's ticket."""
        ticket = self._ticket()
        self.add(Step(at, Kind.REQUEST, child, ticket, companion, "exit", point))
        moment = at
        for guardian, approve in deciders:
            moment += self.rng.randrange(2 * MINUTE, 8 * MINUTE)
            self.add(Step(moment, Kind.GUARDIAN, child, ticket, guardian, approve=approve))
        if protection:
            moment += self.rng.randrange(5 * MINUTE, 10 * MINUTE)
            self.add(Step(moment, Kind.PROTECTION, child, ticket))
        if override:
            moment += self.rng.randrange(5 * MINUTE, 10 * MINUTE)
            self.add(Step(moment, Kind.OVERRIDE, child, ticket))
        if outcome is not None:
            # Requests live an hour; the officer records well within it.
            moment += self.rng.randrange(3 * MINUTE, 8 * MINUTE)
            self.add(Step(moment, Kind.OUTCOME, child, ticket, outcome=outcome))
        return ticket

    def entry(self, at: int, child: str, point: str, companion: str) -> str:
        """An entry into the country: approved as it is asked, then recorded."""
        ticket = self._ticket()
        self.add(Step(at, Kind.REQUEST, child, ticket, companion, "entry", point))
        moment = at + self.rng.randrange(4 * MINUTE, 15 * MINUTE)
        self.add(Step(moment, Kind.OUTCOME, child, ticket, outcome="crossed"))
        return ticket

    def _ticket(self) -> str:
        self._tickets += 1
        return f"r{self._tickets}"


def daytime(rng: random.Random, day_start: int) -> int:
    """A moment between 05:00 and 19:00 UTC (07:00-22:00 in Moldova) of the given day."""
    return day_start + rng.randrange(5 * HOUR, 19 * HOUR)


def day_of(moment: int) -> int:
    return moment - moment % DAY
