"""How commands speak: a human sentence, or one JSON object with ``--json``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import click


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def emit(as_json: bool, payload: dict[str, Any], human: Callable[[], str]) -> None:
    if as_json:
        click.echo(json.dumps(to_jsonable(payload), sort_keys=True))
    else:
        click.echo(human())
