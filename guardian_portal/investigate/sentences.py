"""The workbench's sentences in the reader's language: a flag's explanation and a timeline
item's line, built from the facts the services give.

The services also write these sentences in English (``FlagView.explanation``,
``TimelineItem.summary``) for the CLI, the JSON and the CSV; the portal says the same from
the facts, so that a Romanian or Russian page reads as one. Names (guardians, officers,
companions), card numbers, border point codes and hashes are shown as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from flask_babel import format_date, ngettext
from flask_babel import gettext as _

from guardian_portal.guardian.words import direction_words
from guardian_portal.registry.forms import REVOCATION_REASONS
from ledger_client.risk.flags import FlagView
from ledger_client.services.investigation_model import TimelineItem

Facts = Mapping[str, str | int | bool]

# The registry's name for itself where no staff member is known (see investigation_timeline).
REGISTRY = "the registry"


def _int(facts: Facts, key: str) -> int:
    value = facts.get(key, 0)
    return value if isinstance(value, int) else 0


def _text(facts: Facts, key: str) -> str:
    return str(facts.get(key, ""))


def _within_days(days: int) -> str:
    return ngettext("within %(num)d day", "within %(num)d days", days)


def _day(moment: int) -> str:
    """A unix time as the day people read in their language."""
    return str(format_date(datetime.fromtimestamp(moment, UTC), "d MMM y"))


def flag_explanation(flag: FlagView) -> str:
    """What :func:`ledger_client.risk.explain.explain` says about the flag, translated."""
    facts = flag.facts
    count, threshold = _int(facts, "count"), _int(facts, "threshold")
    window = _within_days(_int(facts, "window_days"))
    if flag.number == 1:
        return ngettext(
            "This companion travelled with %(num)d child who is not theirs %(window)s "
            "(%(threshold)s or more is flagged).",
            "This companion travelled with %(num)d children who are not theirs %(window)s "
            "(%(threshold)s or more is flagged).",
            count,
            window=window,
            threshold=threshold,
        )
    if flag.number == 2:
        return ngettext(
            "This child had %(num)d exit request %(window)s (%(threshold)s or more is flagged).",
            "This child had %(num)d exit requests %(window)s (%(threshold)s or more is flagged).",
            count,
            window=window,
            threshold=threshold,
        )
    if flag.number == 3:
        hours = _int(facts, "window_hours")
        return ngettext(
            "A crossing of this child was denied at %(denied_at)s, then %(num)d new exit "
            "request followed at %(tried_at)s %(window)s.",
            "A crossing of this child was denied at %(denied_at)s, then %(num)d new exit "
            "requests followed at %(tried_at)s %(window)s.",
            count,
            denied_at=_text(facts, "denied_at"),
            tried_at=_text(facts, "tried_at"),
            window=ngettext("within %(num)d hour", "within %(num)d hours", hours),
        )
    if flag.number == 4:
        return _guardian_added(facts, window)
    if flag.number == 5:
        return ngettext(
            "This guardian document is %(on_children)s of %(num)d unrelated family "
            "(%(threshold)s or more families is flagged).",
            "This guardian document is %(on_children)s of %(num)d unrelated families "
            "(%(threshold)s or more families is flagged).",
            count,
            on_children=ngettext(
                "on %(num)d child", "on %(num)d children", _int(facts, "children")
            ),
            threshold=threshold,
        )
    if flag.number == 6:
        return ngettext(
            "This child left at %(border_point)s on %(date)s and no entry has been requested "
            "since; %(num)d exit without return %(after)s.",
            "This child left at %(border_point)s on %(date)s and no entry has been requested "
            "since; %(num)d exits without return %(after)s.",
            count,
            border_point=_text(facts, "border_point"),
            date=_day(_int(facts, "at")),
            after=ngettext("after %(num)d day", "after %(num)d days", _int(facts, "window_days")),
        )
    if flag.number == 7:
        return _(
            "The family rule was %(set_aside)s and %(co_approved)s %(window)s, weighing "
            "%(count)s (an override weighs 2; %(threshold)s or more is flagged).",
            set_aside=ngettext(
                "set aside %(num)d time by court order",
                "set aside %(num)d times by court order",
                _int(facts, "overrides"),
            ),
            co_approved=ngettext(
                "co-approved %(num)d time by child protection",
                "co-approved %(num)d times by child protection",
                _int(facts, "co_approvals"),
            ),
            window=window,
            count=count,
            threshold=threshold,
        )
    return flag.explanation  # an indicator the portal does not know yet


def _guardian_added(facts: Facts, window: str) -> str:
    days = _int(facts, "days")
    when = (
        _("less than a day before an exit request")
        if days == 0
        else ngettext(
            "%(num)d day before an exit request", "%(num)d days before an exit request", days
        )
    )
    if _int(facts, "companion_is_new_guardian"):
        return _(
            "A guardian was added to this child %(when)s (%(window)s is flagged); the new "
            "guardian was the companion. Exit requests concerned: %(crossings)s.",
            when=when,
            window=window,
            crossings=_int(facts, "crossings"),
        )
    return _(
        "A guardian was added to this child %(when)s (%(window)s is flagged). Exit requests "
        "concerned: %(crossings)s.",
        when=when,
        window=window,
        crossings=_int(facts, "crossings"),
    )


def timeline_line(item: TimelineItem) -> str:
    """Who did what, as :attr:`TimelineItem.summary` says it, in the reader's language."""
    facts, kind = item.facts, item.kind
    if not facts:
        return item.summary  # an item from before its facts were recorded
    number = _int(facts, "request_id")
    if kind == "enrolled":
        return _(
            "Record registered with card %(card)s; approval policy: %(policy)s.",
            card=_text(facts, "card"),
            policy=policy_words(_text(facts, "policy")),
        )
    if kind == "guardian-added":
        if facts.get("at_enrolment"):
            return _("Guardian %(name)s added at enrolment.", name=_text(facts, "guardian"))
        return _("Guardian %(name)s added.", name=_text(facts, "guardian"))
    if kind == "guardian-removed":
        return _("Guardian %(name)s removed.", name=_text(facts, "guardian"))
    if kind == "policy-changed":
        return _(
            "Approval policy changed to: %(policy)s.",
            policy=policy_words(_text(facts, "policy")),
        )
    if kind == "revoked":
        return _("Record revoked. Reason: %(reason)s.", reason=_reason(_text(facts, "reason")))
    if kind == "superseded":
        return _("Record corrected: replaced by card %(card)s.", card=_text(facts, "successor"))
    if kind == "requested":
        return _request_line(facts, number)
    if kind in ("guardian-decided", "protection-decided"):
        return _decision_line(kind, facts, number)
    if kind == "overridden":
        return _(
            "Request %(number)s overridden by court order %(court_order)s.",
            number=number,
            court_order=_text(facts, "court_order_hash"),
        )
    if kind == "recorded":
        if facts.get("outcome") == "crossed":
            return _("Request %(number)s: the child crossed the border.", number=number)
        return _("Request %(number)s: the child was turned back.", number=number)
    return item.summary


def _request_line(facts: Facts, number: int) -> str:
    words = {
        "number": number,
        "border_point": _text(facts, "border_point"),
        "companion": _text(facts, "companion") or _("an unknown companion"),
        "relation": (
            _("one of the child's guardians")
            if facts.get("companion_is_guardian")
            else _("not a guardian")
        ),
    }
    if facts.get("direction") == "entry":
        return _(
            "Entry request %(number)s at %(border_point)s, travelling with %(companion)s "
            "(%(relation)s).",
            **words,
        )
    if facts.get("direction") == "exit":
        return _(
            "Exit request %(number)s at %(border_point)s, travelling with %(companion)s "
            "(%(relation)s).",
            **words,
        )
    return _(
        "Request %(number)s (%(direction)s) at %(border_point)s, travelling with "
        "%(companion)s (%(relation)s).",
        direction=direction_words(_text(facts, "direction")),
        **words,
    )


def _decision_line(kind: str, facts: Facts, number: int) -> str:
    approved = bool(facts.get("approved"))
    if kind == "protection-decided":
        name = _text(facts, "officer")
        if approved:
            return _(
                "Child protection (%(name)s) approved request %(number)s.", name=name, number=number
            )
        return _("Child protection (%(name)s) denied request %(number)s.", name=name, number=number)
    name = _text(facts, "guardian")
    line = (
        _("Guardian %(name)s approved request %(number)s.", name=name, number=number)
        if approved
        else _("Guardian %(name)s denied request %(number)s.", name=name, number=number)
    )
    if facts.get("set_aside"):
        line += " " + _("It was not counted: the family rule set it aside.")
    return line


def policy_words(policy: str) -> str:
    """An approval policy (``any``, ``all``, ``K-of-N``) in words."""
    if policy == "any":
        return _("any one of the guardians")
    if policy == "all":
        return _("all the guardians")
    head, _of, tail = policy.partition("-of-")
    if head.isdigit() and tail.isdigit():
        return ngettext(
            "%(num)s of the %(count)s guardians",
            "%(num)s of the %(count)s guardians",
            int(head),
            count=int(tail),
        )
    return policy


def _reason(key: str) -> str:
    """A revocation reason (``court_order``) in the words the registry desk chose it by."""
    for choice in REVOCATION_REASONS:
        if choice.value == key.replace("_", "-"):
            return str(choice.label)
    return key  # "code N": a reason this portal does not know


def actor_words(actor: str) -> str:
    """Who acted: a name as it is, the registry in the reader's language."""
    return _("the registry") if actor == REGISTRY else actor
