"""The seven patterns of issue 5, planted on purpose, and legitimate cases just short of them.

Each planted pattern has a subject of its own (a child, a companion, a guardian) that is
recorded in the ground truth; its child's calendar is blocked around the pattern so that the
background adds nothing to it. Companions of planted crossings are parents or people of
their own: a relative shared with siblings' background trips could add up to indicator 1.
"""

from __future__ import annotations

from ledger_client.demo_population.model import DAY, HOUR, Family, Kind, Step
from ledger_client.demo_population.planner import Planner
from ledger_client.errors import InputError

MONTH = 30 * DAY


def plant(p: Planner, count: int) -> None:
    """The patterns that bring families of their own (2 to 7), ``count`` of each."""
    for k in range(count):
        frequent_crossings(p, k)
        denied_then_elsewhere(p, k)
        guardian_added_before_exit(p, k)
        guardian_of_many(p, k)
        exit_without_return(p, k)
        family_rule_overridden(p, k)


def plant_companions(p: Planner, count: int) -> None:
    """Pattern 1, which borrows children of the background's families."""
    for k in range(count):
        companion_unrelated_children(p, k)


def _early_family(p: Planner, kids: int, **options: object) -> tuple[Family, str]:
    family = p.family(kids, enrolled=(p.start, p.start + MONTH), **options)  # type: ignore[arg-type]
    child = family.children[0]
    p.reserved.add(child)
    return family, child


def companion_unrelated_children(p: Planner, k: int) -> None:
    """1: an adult who is nobody's guardian takes children of different families across."""
    t = p.thresholds
    stranger = p.stranger(woman=p.rng.random() < 0.3)
    wanted = t.companion_children + k % 2
    span = max(1, t.companion_window_days - 8) * DAY
    anchor = p.moment(p.start + 2 * MONTH, p.end - span - 20 * DAY)
    chosen: list[tuple[Family, str]] = []
    families = list(p.travelling)
    p.rng.shuffle(families)
    for family in families:
        for child in family.children:
            if (
                child not in p.reserved
                and p.children[child].enrol_at < anchor - 3 * DAY
                and p.calendars[child].free(anchor - 12 * DAY, anchor + span + 20 * DAY)
            ):
                chosen.append((family, child))
                break
        if len(chosen) == wanted:
            break
    if len(chosen) < wanted:
        raise InputError("the population is too small for its planted patterns: make it larger")
    for n, (family, child) in enumerate(chosen):
        depart = anchor + n * span // max(1, wanted - 1) + p.rng.randrange(-3, 4) * HOUR
        back = depart + p.rng.randrange(2, 6) * DAY
        p.round_trip(family, child, depart, back, stranger.key)
        p.calendars[child].block(depart - 12 * DAY, back + 12 * DAY)
        p.reserved.add(child)
    p.planted["companion-unrelated-children"].append(stranger.key)


def frequent_crossings(p: Planner, k: int) -> None:
    """2: a child taken across again and again within a month, by one parent."""
    t = p.thresholds
    family, child = _early_family(p, p.rng.choice((1, 2)))
    parent = p.rng.choice(family.parents).key
    trips = t.frequent_crossings + k % 2
    span = max(2, t.frequent_window_days - 3) * DAY
    first = p.moment(p.start + 2 * MONTH, p.end - span - 10 * DAY)
    gap = span // max(1, trips - 1)
    point = p.namer.border_point()
    for n in range(trips):
        depart = first + n * gap
        p.round_trip(family, child, depart, depart + gap // 2, parent, point=point)
    p.calendars[child].block(first - 40 * DAY, first + span + 40 * DAY)
    p.planted["frequent-crossings"].append(child)


def denied_then_elsewhere(p: Planner, k: int) -> None:
    """3: refused at one border point, tried at another a few hours later."""
    t = p.thresholds
    family, child = _early_family(p, p.rng.choice((1, 2, 3)))
    friend = p.stranger(woman=p.rng.random() < 0.5).key
    parents = [person.key for person in family.parents]
    denied_at = p.moment(p.start + 2 * MONTH, p.end - 20 * DAY)
    first = p.namer.border_point()
    p.steps.exit(denied_at, child, first, friend, [(parents[0], False)], outcome="turned-back")
    hours = max(3, t.denial_window_hours - 2)
    again = denied_at + p.rng.randrange(2 * HOUR, hours * HOUR)
    second = p.namer.border_point(other_than=first)
    if k % 2 == 0:
        p.steps.exit(again, child, second, friend, [(parents[-1], False)], outcome="turned-back")
    else:
        p.steps.exit(again, child, second, friend, [], outcome=None)  # nobody answers
    p.calendars[child].block(denied_at - MONTH, again + MONTH)
    p.planted["denied-then-elsewhere"].append(child)


def guardian_added_before_exit(p: Planner, k: int) -> None:
    """4: a new partner made a guardian, and out with the child days later."""
    t = p.thresholds
    family, child = _early_family(p, p.rng.choice((1, 2)), single=True)
    parent = family.parents[0]
    partner = p.stranger(woman=not parent.woman)
    added = p.moment(p.start + 2 * MONTH, p.end - 45 * DAY)
    p.steps.add(Step(added, Kind.ADD_GUARDIAN, child, person=partner.key))
    depart = added + p.rng.randrange(2 * DAY, max(3, t.new_guardian_days - 2) * DAY)
    back = depart + p.rng.randrange(3, 9) * DAY
    guardians = [parent.key, partner.key]
    p.round_trip(family, child, depart, back, partner.key, guardians=guardians)
    p.calendars[child].block(added - MONTH, back + MONTH)
    p.planted["guardian-added-before-exit"].append(child)


def guardian_of_many(p: Planner, k: int) -> None:
    """5: one man on the records of children of several unrelated mothers."""
    t = p.thresholds
    guardian = p.stranger(woman=False)
    for _ in range(t.guardian_families + k % 2):
        family = p.family(
            1,
            single=True,
            woman=True,
            also=guardian,
            travelling=False,
            enrolled=(p.start, p.end - 60 * DAY),
        )
        child = family.children[0]
        p.reserved.add(child)
        if p.rng.random() < 0.5:
            # The mother takes the child out; he is the guardian who approves.
            enrolled = p.children[child].enrol_at
            depart = p.moment(enrolled + 20 * DAY, p.end - 20 * DAY)
            back = depart + p.rng.randrange(3, 10) * DAY
            p.round_trip(family, child, depart, back, family.parents[0].key)
    p.planted["guardian-of-many"].append(guardian.key)


def exit_without_return(p: Planner, k: int) -> None:
    """6: out of the country, and never back."""
    t = p.thresholds
    family, child = _early_family(p, p.rng.choice((1, 2, 3)))
    # A parent, or an aunt abroad who is nobody's guardian.
    aunt = k % 2 == 1
    companion = p.stranger(woman=True).key if aunt else p.rng.choice(family.parents).key
    depart = p.moment(p.start + 2 * MONTH, p.end - (t.no_return_days + 15) * DAY)
    p.round_trip(family, child, depart, None, companion)
    p.calendars[child].block(depart - 45 * DAY, p.end + DAY)
    p.planted["exit-without-return"].append(child)


def family_rule_overridden(p: Planner, k: int) -> None:
    """7: the family rule set aside again and again: child-protection co-approvals for a
    parent alone, or court orders over the other parent's refusals."""
    t = p.thresholds
    window = t.intervention_window_days * DAY
    if k % 2 == 1:
        family, child = _early_family(p, p.rng.choice((1, 2)), single=True)
        parent = family.parents[0].key
        trips = t.interventions
        first = p.moment(p.start + 2 * MONTH, p.end - window - 20 * DAY)
        gap = (window - 10 * DAY) // max(1, trips - 1)
        for n in range(trips):
            depart = first + n * gap
            back = depart + p.rng.randrange(3, 9) * DAY
            p.round_trip(family, child, depart, back, parent)
    else:
        family, child = _early_family(p, p.rng.choice((1, 2)))
        travelling, objecting = (person.key for person in family.parents)
        trips = (t.interventions + 1) // 2
        first = p.moment(p.start + 2 * MONTH, p.end - window - 20 * DAY)
        gap = (window - 20 * DAY) // max(1, trips)
        for n in range(trips):
            depart = first + n * gap
            point = p.namer.border_point()
            p.steps.exit(depart, child, point, travelling, [(objecting, False)], override=True)
            p.steps.entry(depart + p.rng.randrange(4, 11) * DAY, child, point, travelling)
    p.calendars[child].block(first - window - 5 * DAY, first + 2 * window)
    p.planted["family-rule-overridden"].append(child)


def near_thresholds(p: Planner) -> None:
    """Legitimate cases just short of indicators 2, 3, 4 and 6: precision must survive them."""
    t = p.thresholds
    families = [
        f
        for f in p.travelling
        if not p.reserved & set(f.children)
        and max(p.children[c].enrol_at for c in f.children) < p.start + 50 * DAY
    ]
    couples = [f for f in families if len(f.parents) == 2 and f.policy == "any"]
    singles = [f for f in families if len(f.parents) == 1]
    if len(couples) < 3 or not singles:
        return
    # 2: weekly visits to a grandmother across the border, one short of the threshold.
    family = couples[0]
    child, parent = family.children[0], family.parents[0].key
    span = max(2, t.frequent_window_days - 2) * DAY
    first = p.moment(p.start + 2 * MONTH, p.end - span - 10 * DAY)
    trips = t.frequent_crossings - 1
    for n in range(trips):
        depart = first + n * span // max(1, trips - 1)
        p.round_trip(family, child, depart, depart + DAY, parent, point="OTACI")
    _reserve(p, child, first - 40 * DAY, first + span + 40 * DAY)
    # 3: refused, and tried again at another border point, the next day.
    family = couples[1]
    child = family.children[0]
    friend = p.stranger().key
    denied_at = p.moment(p.start + 2 * MONTH, p.end - 30 * DAY)
    refusal = [(family.parents[0].key, False)]
    p.steps.exit(denied_at, child, "LEUSENI", friend, refusal, outcome="turned-back")
    again = denied_at + (t.denial_window_hours + 18) * HOUR
    deciders, _ = p.approvals(family, friend)
    p.steps.exit(again, child, "SCULENI", friend, deciders)
    p.steps.entry(again + 6 * DAY, child, "SCULENI", friend)
    _reserve(p, child, denied_at - MONTH, again + MONTH)
    # 4: a stepfather added, and the first trip with him some days after the window.
    family = singles[0]
    child, alone = family.children[0], family.parents[0]
    partner = p.stranger(woman=not alone.woman)
    added = p.moment(p.start + 2 * MONTH, p.end - 60 * DAY)
    p.steps.add(Step(added, Kind.ADD_GUARDIAN, child, person=partner.key))
    depart = added + (t.new_guardian_days + 3) * DAY
    guardians = [alone.key, partner.key]
    p.round_trip(family, child, depart, depart + 7 * DAY, partner.key, guardians=guardians)
    _reserve(p, child, added - MONTH, p.end + DAY)
    # 6: on holiday for three weeks now, not back yet.
    family = couples[2]
    child = family.children[0]
    depart = p.end - (t.no_return_days - 9) * DAY
    p.round_trip(family, child, depart, None, family.parents[1].key)
    _reserve(p, child, depart - 45 * DAY, p.end + DAY)


def _reserve(p: Planner, child: str, first: int, last: int) -> None:
    p.reserved.add(child)
    p.calendars[child].block(first, last)
