"""Loads the compiled contracts committed under ``contracts/build``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ledger_client.errors import ConfigurationError

BUILD_DIR = Path(__file__).resolve().parents[2] / "contracts" / "build"
CONTRACT_NAMES = ("ChildRegistry", "CrossingLedger", "AuditAnchor")
# The contracts whose events the indexer copies into SQL. The audit anchor's are read from the
# chain itself whenever the audit log is verified: an index is what an anchor must not trust.
INDEXED_CONTRACT_NAMES = ("ChildRegistry", "CrossingLedger")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@cache
def load_artifact(name: str) -> Artifact:
    """Returns the ABI and bytecode of one contract.

    Raises:
        ConfigurationError: when the artifact is missing or unreadable.
    """
    folder = Path(os.environ.get("TUTELA_ARTIFACTS_DIR") or BUILD_DIR)
    path = folder / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigurationError(
            f"compiled contract {path} is missing or unreadable: run "
            "'python scripts/compile_contracts.py'"
        ) from error
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"])
