"""The planner's state: people, families and children, each child with its calendar."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime

from ledger_client.demo_population.model import (
    DAY,
    INDICATORS,
    MINUTE,
    Calendar,
    ChildPlan,
    Family,
    Kind,
    Step,
    Steps,
    day_of,
    daytime,
)
from ledger_client.demo_population.people import Namer, Person, womans_form
from ledger_client.risk.thresholds import RiskThresholds

YEAR = 365 * DAY


class Planner:
    """Draws families into a plan; scenarios and the background add their steps to it."""

    def __init__(
        self, rng: random.Random, start: int, end: int, thresholds: RiskThresholds
    ) -> None:
        self.rng = rng
        self.start = start
        self.end = end
        self.thresholds = thresholds
        self.namer = Namer(rng)
        self.people: dict[str, Person] = {}
        self.children: dict[str, ChildPlan] = {}
        self.families: list[Family] = []
        self.family_of: dict[str, Family] = {}
        self.calendars: dict[str, Calendar] = defaultdict(Calendar)
        self.steps = Steps(rng)
        self.planted: dict[str, list[str]] = {key: [] for key in INDICATORS}
        # Children a planted pattern or a near-threshold case uses: not borrowed twice.
        self.reserved: set[str] = set()
        # Families that take part in the random background trips.
        self.travelling: list[Family] = []
        self._identities: set[tuple[str, str, str, str]] = set()

    # -- time --------------------------------------------------------------------------------

    def moment(self, earliest: int, latest: int) -> int:
        """A daytime moment on a day between ``earliest`` and ``latest``."""
        first, last = day_of(earliest) + DAY, day_of(latest) - DAY
        return daytime(self.rng, first + self.rng.randrange(max(1, (last - first) // DAY)) * DAY)

    # -- people ------------------------------------------------------------------------------

    def person(self, family: str, *, woman: bool, russian: bool) -> Person:
        made = self.namer.person(family, woman=woman, russian=russian)
        self.people[made.key] = made
        return made

    def stranger(self, *, woman: bool = False) -> Person:
        russian = self.rng.random() < 0.3
        return self.person(self.namer.family_name(russian), woman=woman, russian=russian)

    def family(
        self,
        kids: int,
        *,
        single: bool = False,
        enrolled: tuple[int, int] | None = None,
        travelling: bool = True,
        policy: str = "any",
        woman: bool | None = None,
        also: Person | None = None,
    ) -> Family:
        """A new family: one or two parents (the guardians), relatives, ``kids`` children,
        all enrolled on one visit to the registry within ``enrolled``. ``woman`` chooses a
        single parent's sex; ``also`` is one more guardian, from outside the family."""
        rng = self.rng
        russian = rng.random() < 0.3
        surname = self.namer.family_name(russian)
        if single:
            mother = rng.random() < 0.85 if woman is None else woman
            parents = [self.person(surname, woman=mother, russian=russian)]
        else:
            parents = [
                self.person(surname, woman=True, russian=russian),
                self.person(surname, woman=False, russian=russian),
            ]
            rng.shuffle(parents)
        relatives = []
        if rng.random() < 0.9:
            # A grandmother: the parents' or the other side's surname.
            side = surname if rng.random() < 0.5 else self.namer.family_name(russian)
            relatives.append(self.person(side, woman=True, russian=russian))
        if rng.random() < 0.3:
            relatives.append(self.person(surname, woman=rng.random() < 0.5, russian=russian))
        if also is not None:
            parents.append(also)
        family = Family(f"f{len(self.families) + 1}", parents, relatives, [], policy)
        self.families.append(family)
        if travelling:
            self.travelling.append(family)
        low, high = enrolled or self.enrolment_window()
        visit = self.moment(low, high)
        place = self.namer.place()
        ages: list[int] = []
        for n in range(kids):
            self.child(family, surname, russian, place, visit + n * 4 * MINUTE, ages)
        return family

    def enrolment_window(self) -> tuple[int, int]:
        # Most children were registered in the registry's first weeks, the rest over the year.
        if self.rng.random() < 0.75:
            return self.start, self.start + 20 * DAY
        return self.start + 20 * DAY, self.end - 60 * DAY

    def child(
        self,
        family: Family,
        surname: str,
        russian: bool,
        place: str,
        enrol_at: int,
        ages: list[int],
    ) -> str:
        rng = self.rng
        while True:
            girl = rng.random() < 0.5
            given = self.namer.child_name(girl=girl)
            age = rng.randrange(200, 17 * 365)  # in days, at enrolment
            if any(abs(age - other) < 300 for other in ages):
                continue  # siblings are born at least ten months apart
            birth = _date(enrol_at - age * DAY)
            name = womans_form(surname) if girl and russian else surname
            identity = (given, name, birth, place)
            if identity not in self._identities:
                break
        self._identities.add(identity)
        ages.append(age)
        key = f"c{len(self.children) + 1}"
        guardians = tuple(p.key for p in family.parents)
        self.children[key] = ChildPlan(
            key, given, name, birth, place, guardians, family.policy, enrol_at
        )
        family.children.append(key)
        self.family_of[key] = family
        self.steps.add(Step(enrol_at, Kind.ENROL, key))
        return key

    # -- decisions ---------------------------------------------------------------------------

    def approvals(
        self, family: Family, companion: str, *, guardians: list[str] | None = None
    ) -> tuple[list[tuple[str, bool]], bool]:
        """The guardians' decisions that approve an exit with ``companion``, in order, and
        whether child protection must co-approve (a single guardian travelling: the family
        rule)."""
        rng = self.rng
        everyone = guardians or [p.key for p in family.parents]
        others = [g for g in everyone if g != companion]
        if companion in everyone:
            if not others:
                return [(companion, True)], True
            chosen = [(rng.choice(others), True)]
            if rng.random() < 0.3:
                # The parent at the border approves too; the ledger sets it aside.
                chosen.insert(0, (companion, True))
            return chosen, False
        if family.policy == "all":
            return [(g, True) for g in everyone], False
        return [(rng.choice(everyone), True)], False

    def round_trip(
        self,
        family: Family,
        child: str,
        depart: int,
        back: int | None,
        companion: str,
        *,
        point: str | None = None,
        guardians: list[str] | None = None,
    ) -> None:
        """An approved exit, crossed, and (unless ``back`` is None) the entry home."""
        point = point or self.namer.border_point()
        deciders, protection = self.approvals(family, companion, guardians=guardians)
        self.steps.exit(depart, child, point, companion, deciders, protection=protection)
        if protection:
            self.calendars[child].protection.append(depart)
        if back is not None:
            home = point if self.rng.random() < 0.7 else self.namer.border_point()
            self.steps.entry(back, child, home, companion)


def _date(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).date().isoformat()
