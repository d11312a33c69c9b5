"""An audit entry's detail and private parts as people read them: "key: value" lines, not
Python's braces and brackets."""

from __future__ import annotations

from collections.abc import Mapping


def audit_text(value: object) -> str:
    """One value on one line: a list joined with ", ", a mapping as "key: value; ..."."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {audit_text(value[key])}" for key in sorted(value, key=str))
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ", ".join(audit_text(item) for item in items)
    return str(value)


def audit_lines(value: Mapping[object, object]) -> list[str]:
    """A mapping as "key: value" lines, keys as they are, in their order sorted."""
    return [f"{key}: {audit_text(value[key])}" for key in sorted(value, key=str)]


def helpers() -> dict[str, object]:
    return {"audit_text": audit_text, "audit_lines": audit_lines}
