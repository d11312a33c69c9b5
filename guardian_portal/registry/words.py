"""Statuses, rules and times in words, for the registry and border desks' pages."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from guardian_portal.registry.forms import today

_CHILD_STATUS = {
    "active": _l("Active"),
    "revoked": _l("Revoked"),
    "superseded": _l("Replaced by a corrected record"),
}


def child_status_words(status: str) -> str:
    return str(_CHILD_STATUS.get(status, status))


def policy_words(policy: str, guardians: int) -> str:
    """``any``, ``all`` or ``K-of-n`` as an official reads it aloud to a family."""
    if policy == "any":
        return _("Any one of the guardians")
    if policy == "all":
        return _("All the guardians")
    head = policy.split("-of-")[0]
    if head.isdigit():
        return ngettext(
            "%(num)s of the %(count)s guardians",
            "%(num)s of the %(count)s guardians",
            int(head),
            count=guardians,
        )
    return policy


def when(iso: str | datetime) -> str:
    """A moment as ``2026-11-28 03:47 UTC``: the desks' clocks may sit in any time zone."""
    moment = datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def age_words(birth_date: str) -> str:
    """How old a child is today, to help match the photo and the record to the child."""
    born = date.fromisoformat(birth_date)
    now = today()
    years = now.year - born.year - ((now.month, now.day) < (born.month, born.day))
    if years < 1:
        months = (now.year - born.year) * 12 + now.month - born.month - (now.day < born.day)
        return ngettext("%(num)s month old", "%(num)s months old", max(months, 0))
    return ngettext("%(num)s year old", "%(num)s years old", years)


def words() -> dict[str, object]:
    """The helpers above, for a blueprint's context processor."""
    return {
        "child_status_words": child_status_words,
        "policy_words": policy_words,
        "when": when,
        "age_words": age_words,
    }
