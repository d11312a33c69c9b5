"""The indicators' names, scores and plain-English explanations, all built from a flag's
facts (numbers, border points and dates: never a name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ledger_client.risk.evidence import Finding
from ledger_client.risk.thresholds import RiskThresholds


@dataclass(frozen=True)
class Indicator:
    number: int
    key: str
    subject_kind: str  # "companion" | "child" | "guardian"
    # Evidence only grows (until a reorganisation): new evidence is merged into the flag.
    # Otherwise the flag is recomputed in full, and may no longer hold.
    monotone: bool


INDICATORS: tuple[Indicator, ...] = (
    Indicator(1, "companion-unrelated-children", "companion", True),
    Indicator(2, "frequent-crossings", "child", True),
    Indicator(3, "denied-then-elsewhere", "child", True),
    Indicator(4, "guardian-added-before-exit", "child", True),
    Indicator(5, "guardian-of-many", "guardian", False),
    Indicator(6, "exit-without-return", "child", False),
    Indicator(7, "family-rule-overridden", "child", True),
)
BY_NUMBER = {indicator.number: indicator for indicator in INDICATORS}
BY_KEY = {indicator.key: indicator for indicator in INDICATORS}

# Facts derived from the finding and the thresholds; the rest is the finding's detail.
_DERIVED = frozenset({"count", "crossings", "children", "threshold", "window_days", "window_hours"})


def rules(number: int, thresholds: RiskThresholds) -> dict[str, int]:
    """The threshold and window an indicator was judged by, as facts."""
    t = thresholds
    return {
        1: {"threshold": t.companion_children, "window_days": t.companion_window_days},
        2: {"threshold": t.frequent_crossings, "window_days": t.frequent_window_days},
        3: {"threshold": 1, "window_hours": t.denial_window_hours},
        4: {"threshold": 1, "window_days": t.new_guardian_days},
        5: {"threshold": t.guardian_families},
        6: {"threshold": 1, "window_days": t.no_return_days},
        7: {"threshold": t.interventions, "window_days": t.intervention_window_days},
    }[number]


def facts_of(number: int, finding: Finding, thresholds: RiskThresholds) -> dict[str, int | str]:
    return {
        **finding.detail,
        "count": finding.peak,
        "crossings": len(finding.crossings),
        "children": len(finding.children),
        **rules(number, thresholds),
    }


def finding_of(facts: dict[str, int | str], crossings: list[int], children: list[str]) -> Finding:
    """The finding a stored flag holds, to merge new evidence into."""
    count = facts.get("count", 0)
    return Finding(
        count if isinstance(count, int) else 0,
        set(crossings),
        set(children),
        {key: value for key, value in facts.items() if key not in _DERIVED},
    )


def score(number: int, facts: dict[str, int | str]) -> int:
    """0-100: about 50 at the threshold, rising with how far past it the evidence goes."""
    count, threshold = _int(facts, "count"), max(1, _int(facts, "threshold"))
    if number == 4:
        # A new guardian who then travels with the child is the stronger sign.
        value = 80 if _int(facts, "companion_is_new_guardian") else 50
        return min(100, value + 5 * (_int(facts, "crossings") - 1))
    if number in (3, 6):
        return min(100, 50 + 15 * (count - 1))
    return max(0, min(100, round(50 + 50 * (count - threshold) / threshold)))


def explain(number: int, facts: dict[str, int | str]) -> str:
    """A sentence or two an investigator reads next to the flag."""
    count, threshold = _int(facts, "count"), _int(facts, "threshold")
    days, crossings = _int(facts, "window_days"), _int(facts, "crossings")
    if number == 1:
        return (
            f"This companion travelled with {count} children who are not theirs within "
            f"{days} days ({threshold} or more is flagged)."
        )
    if number == 2:
        return (
            f"This child had {count} exit requests within {days} days "
            f"({threshold} or more is flagged)."
        )
    if number == 3:
        return (
            f"A crossing of this child was denied at {facts.get('denied_at')}, then "
            f"{_times(count, 'new exit request')} followed at {facts.get('tried_at')} "
            f"within {_int(facts, 'window_hours')} hours."
        )
    if number == 4:
        text = (
            f"A guardian was added to this child {_days(_int(facts, 'days'))} before an exit "
            f"request (within {days} days is flagged)"
        )
        if _int(facts, "companion_is_new_guardian"):
            text += "; the new guardian was the companion"
        return text + f". Exit requests concerned: {crossings}."
    if number == 5:
        return (
            f"This guardian document is on {_int(facts, 'children')} children of {count} "
            f"unrelated families ({threshold} or more families is flagged)."
        )
    if number == 6:
        return (
            f"This child left at {facts.get('border_point')} on {_date(_int(facts, 'at'))} "
            f"and no entry has been requested since; {_times(count, 'exit')} without return "
            f"after {days} days."
        )
    return (
        f"The family rule was set aside {_int(facts, 'overrides')} times by court order and "
        f"co-approved {_int(facts, 'co_approvals')} times by child protection within {days} "
        f"days, weighing {count} (an override weighs 2; {threshold} or more is flagged)."
    )


def _int(facts: dict[str, int | str], key: str) -> int:
    value = facts.get(key, 0)
    return value if isinstance(value, int) else 0


def _times(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _days(days: int) -> str:
    return "less than a day" if days == 0 else _times(days, "day")


def _date(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d")
