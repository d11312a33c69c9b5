"""The synthetic registry that ``scripts/bench/investigate.py`` searches: people and a year.

Shape, for 1,000,000 crossing requests: 100,000 children in families of one to four (each
family's chance to travel drawn from a long-tailed law, capped: the busiest cross weekly),
one or two guardians each and a relative or two who sometimes take the children; enrolment in
the 120 days before the year. Trips: a family's children leave together with a guardian or a
relative, mostly through the family's usual border point, and come back 1-21 days later (2%
never do); school and sports groups of 8-25 children from different families travel with one
driver or coach; one child in 500 commutes to school across the border. Summer, the winter
holidays and Easter are peaks, weekends busier than weekdays. Each of the seven risk patterns
is planted ``crossings // 20,000`` times (at least 3) on top, as the demo-data generator does.

Names, birth dates and documents are drawn from short lists, so a common name finds many
children or companions, as it would in a real registry. Everything personal is sealed with the
real envelope encryption and committed with the real keyed hashes (``ledger_client.crypto``,
``ledger_client.identity``); the plan is drawn from one seed, so a rerun draws the same world.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from eth_utils.address import to_checksum_address

from ledger_client.cards import damm_check_digit
from ledger_client.crypto import MasterKey, seal_json
from ledger_client.identity import CommitmentKey, document_commitment

# Part of a kept database's name: bump it when the world's shape changes.
SHAPE = 2
MINUTE, HOUR, DAY = 60, 3600, 86_400
BLOCK_TIME = 5
START = 1_735_689_600  # 2025-01-01T00:00Z, the first day of crossings
GENESIS = START - 120 * DAY  # the chain starts with the enrolments
BORDER_POINTS = (
    "MD-LEUSENI", "MD-SCULENI", "MD-GIURGIULESTI", "MD-OTACI", "MD-CRIVA", "MD-PALANCA",
    "MD-CHISINAU-AIR", "MD-TUDORA", "MD-COSTESTI", "MD-UNGHENI",
)  # fmt: skip
POINT_WEIGHTS = (20, 14, 6, 6, 5, 12, 25, 4, 4, 4)
GIVEN_F = (
    "Ana", "Maria", "Elena", "Ioana", "Cristina", "Natalia", "Olga", "Tatiana", "Victoria",
    "Daniela", "Irina", "Svetlana", "Diana", "Alexandra", "Mihaela", "Valentina", "Corina",
    "Doina", "Lilia", "Nadejda", "Ecaterina", "Galina", "Sofia", "Adriana", "Ludmila",
)  # fmt: skip
GIVEN_M = (
    "Ion", "Vasile", "Andrei", "Mihai", "Alexandru", "Nicolae", "Sergiu", "Victor", "Dumitru",
    "Gheorghe", "Vladimir", "Igor", "Dmitri", "Pavel", "Constantin", "Petru", "Ştefan",
    "Radu", "Maxim", "Denis", "Eugen", "Valeriu", "Oleg", "Artur", "Tudor",
)  # fmt: skip
FAMILY = (
    "Popescu", "Rusu", "Ceban", "Ciobanu", "Cojocaru", "Lungu", "Munteanu", "Rotari", "Țurcanu",
    "Sîrbu", "Moraru", "Bivol", "Cebotari", "Gutu", "Croitoru", "Melnic", "Botnari", "Ursu",
    "Roșca", "Postolachi", "Guțu", "Popa", "Sandu", "Grosu", "Bejenari", "Bodiu", "Casian",
    "Dabija", "Eremia", "Frunză", "Gîrlea", "Harea", "Istrati", "Jardan", "Leahu", "Mereuță",
    "Negru", "Onica", "Pîrțac", "Rusnac", "Scutaru", "Tabuncic", "Ungureanu", "Vrabie",
    "Zubcu", "Ivanov", "Petrov", "Smirnov", "Kovalenko", "Bondarenko",
)  # fmt: skip
PLACES = (
    "Chișinău", "Bălți", "Cahul", "Orhei", "Ungheni", "Soroca", "Comrat", "Edineț", "Hîncești",
    "Strășeni", "Căușeni", "Florești", "Drochia", "Ialoveni", "Nisporeni", "Leova", "Briceni",
)  # fmt: skip


class Kid(NamedTuple):
    child_id: str
    card: str
    given: str
    family_name: str
    birth: date
    place: str
    family: int
    enrolled_at: int


class Plan(NamedTuple):
    """One crossing request to be: when, who, where, and what is forced on it."""

    at: int
    child: int
    direction: str  # "exit" | "entry"
    companion: int  # a person
    point: int
    forced: str  # "" | "deny" | "override" | "approve"


@dataclass
class Family:
    guardians: list[int]
    relatives: list[int]
    children: list[int] = field(default_factory=list)
    point: int = 0


@dataclass
class World:
    """People, children, guardianships and the requests, sorted by time and numbered from 1."""

    seed: int
    names: list[str]
    documents: list[str]
    addresses: list[str]
    kids: list[Kid]
    families: list[Family]
    # (child, person, added at, added in the registration transaction)
    guardianships: list[tuple[int, int, int, bool]]
    plans: list[Plan]
    planted: dict[str, int]
    commitments: dict[int, str] = field(default_factory=dict)

    def guardians_of(self, child: int) -> list[tuple[int, int]]:
        """(person, added at) of each guardian the child ever had."""
        return self._by_child.get(child, [])

    def __post_init__(self) -> None:
        self._by_child: dict[int, list[tuple[int, int]]] = {}
        for child, person, added, _ in self.guardianships:
            self._by_child.setdefault(child, []).append((person, added))

    def commitment(self, key: CommitmentKey, person: int) -> str:
        """The person's document commitment, as on chain (computed once per person)."""
        found = self.commitments.get(person)
        if found is None:
            found = "0x" + document_commitment(key, self.documents[person]).hex()
            self.commitments[person] = found
        return found


def block_of(at: int) -> int:
    return 1 + (at - GENESIS) // BLOCK_TIME


def time_of(block: int) -> int:
    return GENESIS + (block - 1) * BLOCK_TIME


def block_hash(seed: int, block: int) -> str:
    return "0x" + hashlib.sha256(f"{seed}:{block}".encode()).hexdigest()


def day_weight(at: int) -> float:
    """Seasonal peaks: summer, the winter holidays, Easter; weekends busier."""
    day = datetime.fromtimestamp(at, UTC)
    weight = 1.0
    if (day.month, day.day) >= (6, 20) and (day.month, day.day) <= (8, 31):
        weight = 2.2
    elif (day.month == 12 and day.day >= 20) or (day.month == 1 and day.day <= 8):
        weight = 2.0
    elif day.month == 4 and 10 <= day.day <= 25:
        weight = 1.5
    return weight * (1.3 if day.weekday() >= 4 else 1.0)


class _Draw:
    """The world's random draws, from one seed."""

    def __init__(self, rng: random.Random, span_days: int) -> None:
        self.rng = rng
        self.days = list(
            itertools.accumulate(day_weight(START + d * DAY) for d in range(span_days))
        )
        self.points = list(itertools.accumulate(POINT_WEIGHTS))

    def moment(self, start_hour: int = 5, hours: int = 18) -> int:
        day = bisect.bisect(self.days, self.rng.random() * self.days[-1])
        return START + day * DAY + start_hour * HOUR + self.rng.randrange(hours * HOUR)

    def point(self) -> int:
        return bisect.bisect(self.points, self.rng.random() * self.points[-1])


def build_world(crossings: int, new: int, seed: int) -> World:
    """A population and ``crossings + new`` requests; the first ``crossings`` span a year."""
    rng = random.Random(seed)
    target = int((crossings + new) * 1.03) + 200
    span = int(365 * target / crossings) + 1
    draw = _Draw(rng, span)
    names: list[str] = []
    addresses: list[str] = []

    def person(given: str, family_name: str) -> int:
        names.append(f"{given} {family_name}")
        return len(names) - 1

    def adult(family_name: str | None = None) -> int:
        given = rng.choice(GIVEN_F if rng.random() < 0.5 else GIVEN_M)
        return person(given, family_name or rng.choice(FAMILY))

    kids: list[Kid] = []
    families: list[Family] = []
    guardianships: list[tuple[int, int, int, bool]] = []
    wanted = max(20, crossings // 10)
    cards = rng.sample(range(10**9), wanted + 100)
    while len(kids) < wanted:
        surname = rng.choice(FAMILY)
        parents = [adult(surname)] + ([adult(surname if rng.random() < 0.8 else None)]
                                      if rng.random() < 0.85 else [])  # fmt: skip
        relatives = [adult(surname) for _ in range(rng.choice((0, 1, 1, 2)))]
        family = Family(parents, relatives, point=draw.point())
        place = rng.choice(PLACES)
        for _ in range(rng.choices((1, 2, 3, 4), (45, 35, 15, 5))[0]):
            index = len(kids)
            enrolled = GENESIS + rng.randrange(110 * DAY)
            birth = date(2025, 1, 1) - timedelta(days=rng.randrange(30, 17 * 365))
            given = rng.choice(GIVEN_F if rng.random() < 0.5 else GIVEN_M)
            body = f"{cards[index]:09d}"
            kid = Kid("0x" + rng.randbytes(16).hex(), body + damm_check_digit(body), given,
                      surname, birth, place, len(families), enrolled)  # fmt: skip
            kids.append(kid)
            family.children.append(index)
            guardianships += [(index, parent, enrolled, True) for parent in parents]
        families.append(family)
    staff_pool = [adult() for _ in range(max(10, len(kids) // 500))]  # drivers and coaches

    plans: list[Plan] = []
    # Long-tailed, capped: the most travelled families (workers abroad) cross about weekly.
    propensity = list(itertools.accumulate(min(25.0, rng.paretovariate(1.5)) for _ in families))

    def trip(children: list[int], companion: int, leave: int, back: int | None, point: int) -> None:
        for child in children:
            plans.append(
                Plan(leave + rng.randrange(4 * MINUTE), child, "exit", companion, point, "")
            )
            if back is not None:
                back_point = point if rng.random() < 0.8 else draw.point()
                plans.append(Plan(back + rng.randrange(4 * MINUTE), child, "entry", companion,
                                  back_point, ""))  # fmt: skip

    for child in range(0, len(kids), 500):  # commuters to school
        family = families[kids[child].family]
        companion = family.guardians[0]
        for day in rng.sample(range(span - 1), min(span - 1, rng.randint(120, 200))):
            leave = START + day * DAY + 7 * HOUR + rng.randrange(HOUR)
            trip([child], companion, leave, leave + 8 * HOUR + rng.randrange(HOUR), family.point)
    while len(plans) < target:
        leave = draw.moment()
        back = leave + rng.choice((1, 2, 3, 4, 5, 7, 7, 10, 14, 21)) * DAY + rng.randrange(DAY)
        if rng.random() < 0.006:  # a school or sports group with its driver or coach
            group = [rng.randrange(len(kids)) for _ in range(rng.randint(8, 25))]
            trip(group, rng.choice(staff_pool), leave, back, draw.point())
            continue
        family = families[bisect.bisect(propensity, rng.random() * propensity[-1])]
        children = family.children
        if len(children) > 1 and rng.random() < 0.4:
            children = rng.sample(children, rng.randint(1, len(children)))
        if family.relatives and rng.random() < 0.2:
            companion = rng.choice(family.relatives)
        else:
            companion = rng.choice(family.guardians)
        point = family.point if rng.random() < 0.85 else draw.point()
        trip(children, companion, leave, None if rng.random() < 0.02 else back, point)

    planted = _plant(rng, draw, crossings, kids, families, guardianships, plans, adult)
    plans.sort()
    documents = [f"{rng.choice('ABCK')}{n:08d}" for n in rng.sample(range(10**8), len(names))]
    addresses = [to_checksum_address(rng.randbytes(20)) for _ in names]
    plans = _align(plans, crossings, new)
    return World(seed, names, documents, addresses, kids, families, guardianships, plans, planted)


def _plant(
    rng: random.Random,
    draw: _Draw,
    crossings: int,
    kids: list[Kid],
    families: list[Family],
    guardianships: list[tuple[int, int, int, bool]],
    plans: list[Plan],
    new_adult: Callable[[], int],
) -> dict[str, int]:
    """Each of the seven patterns, planted ``crossings // 20,000`` times (at least 3)."""
    count = max(3, crossings // 20_000)

    def moment() -> int:
        # Within the year's first 330 days, so that the base index holds the whole pattern.
        while (at := draw.moment()) > START + 330 * DAY:
            pass
        return at

    def unrelated(n: int) -> list[int]:
        chosen = rng.sample(range(len(families)), n)
        return [rng.choice(families[f].children) for f in chosen]

    def guardian_of(child: int) -> int:
        return families[kids[child].family].guardians[0]

    for _ in range(count):  # 1: one adult, several children who are not theirs, within 30 days
        trafficker, first = new_adult(), moment()
        for child in unrelated(rng.randint(3, 5)):
            at = first + rng.randrange(28 * DAY)
            plans.append(Plan(at, child, "exit", trafficker, draw.point(), "approve"))
    for child in unrelated(count):  # 2: a child crossing often
        first, companion = moment(), guardian_of(child)
        for trip in range(rng.randint(6, 9)):
            at = first + trip * 3 * DAY + rng.randrange(DAY)
            plans.append(Plan(at, child, "exit", companion, draw.point(), ""))
            plans.append(Plan(at + 10 * HOUR, child, "entry", companion, draw.point(), ""))
    for child in unrelated(count):  # 3: denied, then another border point within hours
        at, companion = moment(), new_adult()
        first = draw.point()
        plans.append(Plan(at, child, "exit", companion, first, "deny"))
        second = (first + rng.randint(1, len(BORDER_POINTS) - 1)) % len(BORDER_POINTS)
        plans.append(Plan(at + rng.randint(1, 11) * HOUR, child, "exit", companion, second, ""))
    for child in unrelated(count):  # 4: a guardian added shortly before an exit, travelling
        added, newcomer = moment(), new_adult()
        guardianships.append((child, newcomer, added, False))
        at = added + rng.randint(1, 13) * DAY
        plans.append(Plan(at, child, "exit", newcomer, draw.point(), "approve"))
    for _ in range(count):  # 5: one adult, guardian of children of several families
        holder = new_adult()
        for child in unrelated(rng.randint(4, 6)):
            guardianships.append((child, holder, moment(), False))
    for child in unrelated(count):  # 6: an exit, and no return
        plans.append(Plan(moment(), child, "exit", guardian_of(child), draw.point(), "approve"))
    for child in unrelated(count):  # 7: the family rule overridden by court order, twice
        first = moment()
        for trip in range(2):
            at = first + trip * rng.randint(20, 40) * DAY
            plans.append(Plan(at, child, "exit", new_adult(), draw.point(), "override"))
    return {"planted per pattern": count}


def _align(plans: list[Plan], crossings: int, new: int) -> list[Plan]:
    """Moves a request sharing a block with the last one of a stage into the next block.

    The base index ends with request ``crossings``' block and the new rows with request
    ``crossings + new``'s, so that each stage holds exactly that many requests.
    """
    plans = plans[: crossings + new]
    for last in (crossings, crossings + new):
        if last >= len(plans):
            continue
        edge = block_of(plans[last - 1].at)
        for index in range(last, len(plans)):
            if block_of(plans[index].at) > edge:
                break
            plans[index] = plans[index]._replace(at=time_of(edge + 1))
    return plans


def seal_companion(master: MasterKey, action_key: str, name: str, document: str) -> bytes:
    """The companion's details as ``request_crossing`` seals them (same payload, same binding)."""
    aad = b"crossing_requests:" + action_key.encode()
    return seal_json(master, {"name": name, "document": document}, associated_data=aad).to_bytes()
