"""The workbench's words for the service's codes: indicators, timeline items, people."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from guardian_portal.guardian.words import helpers as desk_helpers
from guardian_portal.investigate.sentences import actor_words, flag_explanation, timeline_line

INDICATORS: dict[str, LazyString] = {
    "companion-unrelated-children": _l("An adult travelling with several children not theirs"),
    "frequent-crossings": _l("A child crossing unusually often"),
    "denied-then-elsewhere": _l("Denied, then tried at another border point"),
    "guardian-added-before-exit": _l("A guardian added shortly before an exit"),
    "guardian-of-many": _l("One adult registered as guardian of many children"),
    "exit-without-return": _l("An exit with no return"),
    "family-rule-overridden": _l("The family rule overridden or co-approved repeatedly"),
}

TIMELINE_KINDS: dict[str, LazyString] = {
    "enrolled": _l("Enrolled"),
    "guardian-added": _l("Guardian added"),
    "guardian-removed": _l("Guardian removed"),
    "policy-changed": _l("Approval policy changed"),
    "revoked": _l("Record revoked"),
    "superseded": _l("Record corrected"),
    "requested": _l("Crossing requested"),
    "guardian-decided": _l("Guardian decided"),
    "protection-decided": _l("Child-protection desk decided"),
    "overridden": _l("Overridden by court order"),
    "recorded": _l("Outcome recorded"),
}

KINDS: dict[str, LazyString] = {
    "child": _l("Child"),
    "companion": _l("Companion"),
    "guardian": _l("Guardian"),
}

FLAG_STATUSES: dict[str, LazyString] = {
    "open": _l("Not reviewed"),
    "reviewed": _l("Reviewed"),
}


def indicator_words(key: str) -> str:
    return str(INDICATORS.get(key, key))


def timeline_words(kind: str) -> str:
    return str(TIMELINE_KINDS.get(kind, kind))


def kind_words(kind: str) -> str:
    return str(KINDS.get(kind, kind))


def flag_status_words(status: str) -> str:
    return str(FLAG_STATUSES.get(status, status))


def short_hash(tx_hash: str) -> str:
    """A transaction hash as people compare it by eye: its first and last characters."""
    return tx_hash if len(tx_hash) <= 14 else f"{tx_hash[:8]}\u2026{tx_hash[-6:]}"


def helpers() -> dict[str, object]:
    return {
        **desk_helpers(),
        "indicator_words": indicator_words,
        "timeline_words": timeline_words,
        "kind_words": kind_words,
        "flag_status_words": flag_status_words,
        "short_hash": short_hash,
        "flag_explanation": flag_explanation,
        "timeline_line": timeline_line,
        "actor_words": actor_words,
    }
