"""The committed contract artifacts match a fresh compilation of the sources.

Recompiles for real (about 15 s with solc-js): a stale artifact would deploy bytecode that no
longer matches the Solidity that reviewers read.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HINT = "run `python scripts/compile_contracts.py` and commit contracts/build/"
INTERFACES = {
    "ChildRegistry": "IChildRegistry.sol",
    "CrossingLedger": "ICrossingLedger.sol",
    "AuditAnchor": "IAuditAnchor.sol",
}


def _load_compile_script() -> ModuleType:
    path = REPO_ROOT / "scripts" / "compile_contracts.py"
    spec = importlib.util.spec_from_file_location("compile_contracts", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compiler() -> ModuleType:
    return _load_compile_script()


@pytest.fixture(scope="module")
def fresh(compiler: ModuleType) -> dict[str, dict[str, Any]]:
    return compiler.build_artifacts()


def _differences(committed: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    keys = sorted(set(committed) | set(fresh))
    return [key for key in keys if committed.get(key) != fresh.get(key)]


def test_committed_artifacts_match_the_sources(
    compiler: ModuleType, fresh: dict[str, dict[str, Any]]
) -> None:
    assert set(fresh) == {"ChildRegistry", "CrossingLedger", "AuditAnchor"}
    for name, artifact in fresh.items():
        path = compiler.artifact_path(name)
        assert path.exists(), f"{path.relative_to(REPO_ROOT)} is missing; {HINT}"
        text = path.read_text(encoding="utf-8")
        committed = json.loads(text)
        changed = _differences(committed, artifact)
        assert committed == artifact, (
            f"{path.relative_to(REPO_ROOT)} is stale (differs in {changed}); {HINT}"
        )
        # Byte-equal too, so that regenerating never shows a spurious diff.
        assert text == compiler.render(artifact), (
            f"{path.name} is not formatted as generated; {HINT}"
        )


def test_stale_artifacts_are_named(
    compiler: ModuleType, fresh: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    compiler.write_artifacts(fresh, tmp_path)
    assert compiler.stale_artifacts(fresh, tmp_path) == []

    edited = json.loads((tmp_path / "CrossingLedger.json").read_text(encoding="utf-8"))
    edited["bytecode"] = edited["bytecode"][:-2] + "00"
    (tmp_path / "CrossingLedger.json").write_text(compiler.render(edited), encoding="utf-8")
    (tmp_path / "ChildRegistry.json").unlink()

    assert compiler.stale_artifacts(fresh, tmp_path) == [
        tmp_path / "ChildRegistry.json",
        tmp_path / "CrossingLedger.json",
    ]


# Opcodes that Besu and GoQuorum networks on `paris` do not have.
POST_PARIS_OPCODES = {0x5C: "TLOAD", 0x5D: "TSTORE", 0x5E: "MCOPY", 0x5F: "PUSH0"}


def _opcodes(code: bytes) -> list[int]:
    """The opcodes of `code`, push data skipped."""
    opcodes, i = [], 0
    while i < len(code):
        opcode = code[i]
        opcodes.append(opcode)
        i += 1 + (opcode - 0x5F if 0x60 <= opcode <= 0x7F else 0)
    return opcodes


def _code_sections(artifact: dict[str, Any]) -> dict[str, bytes]:
    """The instructions that run: the runtime code without its metadata, and the init code."""
    runtime = bytes.fromhex(artifact["deployedBytecode"].removeprefix("0x"))
    # solc appends CBOR metadata followed by its length in two bytes.
    runtime_code = runtime[: len(runtime) - 2 - int.from_bytes(runtime[-2:], "big")]
    creation = bytes.fromhex(artifact["bytecode"].removeprefix("0x"))
    # The creation code is the init code, the runtime code, then data; the init code ends where
    # the runtime starts (its first 32 bytes hold no immutable).
    runtime_start = creation.find(runtime[:32])
    assert runtime_start > 0, "runtime code not found in the creation code"
    return {"deployedBytecode": runtime_code, "init code": creation[:runtime_start]}


def test_artifacts_are_pinned_to_paris_and_solc_0_8_28(fresh: dict[str, dict[str, Any]]) -> None:
    for name, artifact in fresh.items():
        assert artifact["contractName"] == name
        assert artifact["compiler"]["evmVersion"] == "paris"
        assert artifact["compiler"]["version"].startswith("0.8.28+commit.")
        assert artifact["compiler"]["optimizer"]["enabled"] is True
        assert re.fullmatch(r"[0-9a-f]{64}", artifact["sourcesHash"])
        for section, code in _code_sections(artifact).items():
            used = {POST_PARIS_OPCODES[op] for op in _opcodes(code) if op in POST_PARIS_OPCODES}
            assert not used, f"{name} {section} uses post-paris opcodes {sorted(used)}"


@pytest.mark.parametrize("name", sorted(INTERFACES))
def test_abi_carries_every_error_and_event_of_its_interface(
    fresh: dict[str, dict[str, Any]], name: str
) -> None:
    source = (REPO_ROOT / "contracts" / "src" / INTERFACES[name]).read_text(encoding="utf-8")
    declared = {
        (kind, ident) for kind, ident in re.findall(r"^\s*(error|event)\s+(\w+)\s*\(", source, re.M)
    }
    in_abi = {(entry["type"], entry["name"]) for entry in fresh[name]["abi"] if "name" in entry}
    assert declared, f"no errors or events parsed from {INTERFACES[name]}"
    assert declared <= in_abi, f"missing from the {name} ABI: {sorted(declared - in_abi)}"
