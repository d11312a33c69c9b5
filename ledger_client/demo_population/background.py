"""The ordinary year: family trips with seasonal peaks, and a few step-parents added.

What keeps the background under the indicators' defaults (so that the flags it raises are
rare, which is what precision measures):

* a family's trips start at least five weeks apart, so no child has many exits in a month
  and no relative travels with more than the two children a relative's trip takes (1, 2);
* a denial is retried a day or more later, at the same border point (3);
* a step-parent is added weeks before the child's next trip (4);
* a single parent has at most three children: sharing no other guardian, each of them
  counts as a "family" of their own, and four would make indicator 5 (see ``plan``);
* every trip that started more than three weeks before the end comes home (6);
* a single parent travels with the child (which child protection must co-approve) at most
  twice in any window of indicator 7; otherwise a grandmother goes (7).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ledger_client.demo_population.model import DAY, HOUR, MINUTE, Family, Kind, Step, day_of
from ledger_client.demo_population.planner import Planner

# Trips per family in the year: most families travel once or twice.
TRIPS_PER_FAMILY = ((0, 25), (1, 38), (2, 24), (3, 10), (4, 3))
FAMILY_TRIP_GAP = 35 * DAY
STEP_PARENT_CHANCE = 0.12


def orthodox_easter(year: int) -> date:
    """Orthodox Easter (Meeus' Julian algorithm, moved to the Gregorian calendar; 1900-2099)."""
    a, b, c = year % 4, year % 7, year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    return date(year, month, day + 1) + timedelta(days=13)


def season(day: int) -> str:
    """``summer``, ``winter`` (the holidays), ``easter`` or ``other`` for a day's start."""
    moment = datetime.fromtimestamp(day, UTC).date()
    if moment.month in (7, 8) or (moment.month == 6 and moment.day >= 15):
        return "summer"
    if (moment.month == 12 and moment.day >= 20) or (moment.month == 1 and moment.day <= 10):
        return "winter"
    if abs((moment - orthodox_easter(moment.year)).days) <= 6:
        return "easter"
    return "other"


SEASON_WEIGHT = {"summer": 4.0, "winter": 4.0, "easter": 3.0, "other": 1.0}
SEASON_DAYS = {"summer": (7, 26), "winter": (5, 15), "easter": (3, 9), "other": (2, 11)}


def add_background(p: Planner) -> None:
    """Step-parents first (their calendars must be known), then every family's trips."""
    days = list(range(day_of(p.start) + DAY, day_of(p.end) - DAY, DAY))
    weights = [SEASON_WEIGHT[season(day)] for day in days]
    for family in p.travelling:
        if len(family.parents) == 1 and p.rng.random() < STEP_PARENT_CHANCE:
            _step_parent(p, family)
    for family in p.travelling:
        values, chances = zip(*TRIPS_PER_FAMILY, strict=True)
        for _ in range(p.rng.choices(values, weights=chances)[0]):
            for _attempt in range(12):
                if _trip(p, family, p.rng.choices(days, weights=weights)[0]):
                    break


def _step_parent(p: Planner, family: Family) -> None:
    children = [c for c in family.children if c not in p.reserved]
    if not children:
        return
    enrolled = max(p.children[c].enrol_at for c in children)
    if enrolled + 20 * DAY >= p.end - 40 * DAY:
        return
    added = p.moment(enrolled + 20 * DAY, p.end - 40 * DAY)
    if not all(p.calendars[c].free(added - 2 * DAY, added + 30 * DAY) for c in children):
        return
    partner = p.stranger(woman=not family.parents[0].woman)
    for n, child in enumerate(children):
        p.steps.add(Step(added + n * 3 * MINUTE, Kind.ADD_GUARDIAN, child, person=partner.key))
        # Well clear of indicator 4's window before the next trip.
        clear = (p.thresholds.new_guardian_days + 10) * DAY
        p.calendars[child].block(added - 2 * DAY, added + clear)


def _trip(p: Planner, family: Family, day: int) -> bool:
    """One family trip leaving on ``day``, if it fits; False when it does not."""
    rng = p.rng
    low, high = SEASON_DAYS[season(day)]
    depart = day + rng.randrange(5 * HOUR, 17 * HOUR)
    back = day + rng.randrange(low, high) * DAY + rng.randrange(6 * HOUR, 18 * HOUR)
    if back > p.end - 3 * HOUR:
        if depart < p.end - 20 * DAY:
            back = p.end - rng.randrange(1, 4) * DAY  # home before the end, as most are
            if back <= depart + DAY:
                return False
        else:
            back = 0  # still away at the end of the year: no entry yet
    last = back or p.end
    for other, other_last in family.trips:
        if abs(depart - other) < FAMILY_TRIP_GAP or (
            depart <= other_last + 5 * DAY and other <= last + 5 * DAY
        ):
            return False
    kids = [
        child
        for child in family.children
        if p.children[child].enrol_at < depart - DAY
        and p.calendars[child].free(depart - 2 * DAY, last + 5 * DAY)
        and rng.random() < 0.85
    ]
    if not kids:
        return False
    companion = _companion(p, family, kids, depart)
    if companion is None:
        return False
    if companion not in {person.key for person in family.parents}:
        kids = kids[:2]  # a grandmother takes one or two of them
    family.trips.append((depart, last))
    _go(p, family, kids, depart, back or None, companion)
    return True


def _companion(p: Planner, family: Family, kids: list[str], depart: int) -> str | None:
    rng = p.rng
    relatives = [person.key for person in family.relatives]
    if family.policy == "all":
        # Both parents approve a relative's trip; a parent travelling would need child
        # protection every time, which is indicator 7's business.
        return rng.choice(relatives) if relatives else None
    if len(family.parents) == 1:
        window = p.thresholds.intervention_window_days * DAY
        limit = p.thresholds.interventions - 2
        busy = any(
            sum(1 for moment in p.calendars[c].protection if abs(moment - depart) < window) > limit
            for c in kids
        )
        if not busy and (rng.random() < 0.6 or not relatives):
            return family.parents[0].key
        return rng.choice(relatives) if relatives else None
    if relatives and rng.random() < 0.25:
        return rng.choice(relatives)
    return rng.choice(family.parents).key


def _go(
    p: Planner, family: Family, kids: list[str], depart: int, back: int | None, companion: str
) -> None:
    """The requests of one trip: mostly approved; some refused, unanswered or turned back."""
    rng = p.rng
    point = p.namer.border_point()
    guardians = [person.key for person in family.parents]
    deciders, protection = p.approvals(family, companion)
    refusers = [g for g in guardians if g != companion]
    draw = rng.random()
    if draw < 0.07 and refusers:
        refuser = rng.choice(refusers)
        for n, child in enumerate(kids):
            at = depart + n * 4 * MINUTE
            p.steps.exit(at, child, point, companion, [(refuser, False)], outcome="turned-back")
        if rng.random() < 0.5 or back is None:
            return  # the trip is off
        # Sorted out at home; they come back to the same post a day or two later.
        delay = rng.randrange(1, 3) * DAY + rng.randrange(HOUR, 6 * HOUR)
        depart, back = depart + delay, back + delay
        if back > p.end - 3 * HOUR:
            return
    elif draw < 0.11:
        for n, child in enumerate(kids):
            p.steps.exit(depart + n * 4 * MINUTE, child, point, companion, [], outcome=None)
        depart += rng.randrange(70 * MINUTE, 150 * MINUTE)  # asked again once it expired
    outcome = "turned-back" if rng.random() < 0.02 else "crossed"
    for n, child in enumerate(kids):
        at = depart + n * 4 * MINUTE
        p.steps.exit(at, child, point, companion, deciders, protection=protection, outcome=outcome)
        if protection:
            p.calendars[child].protection.append(at)
    if outcome != "crossed" or back is None:
        return
    home = point if rng.random() < 0.7 else p.namer.border_point()
    for n, child in enumerate(kids):
        p.steps.entry(back + n * 4 * MINUTE, child, home, companion)
