"""Compile Tutela's contracts into the committed artifacts in contracts/build/.

Usage:
    python scripts/compile_contracts.py          # (re)write contracts/build/*.json
    python scripts/compile_contracts.py --check  # exit 1 when a committed artifact is stale

The compiler is solc 0.8.28. py-solc-x cannot download one without internet, so a native
`solc` on PATH is used when it reports 0.8.28, and otherwise `scripts/solc-shim`, which runs
the pinned solc-js from node_modules. Both give the same bytecode for the same commit, and the
artifacts record the version without the platform suffix, so either produces identical files.

The module is importable (a test calls `build_artifacts()` and `stale_artifacts()` directly).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import solcx
from solcx.wrapper import get_solc_version

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES_DIR = REPO_ROOT / "contracts" / "src"
BUILD_DIR = REPO_ROOT / "contracts" / "build"
SHIM = REPO_ROOT / "scripts" / "solc-shim"

SOLC_VERSION = "0.8.28"
# Besu and GoQuorum networks lag behind mainnet: `paris` has no PUSH0, MCOPY or transient storage.
EVM_VERSION = "paris"
# Chosen by measuring the gas goals (registerChild, registerChildren, and requestCrossing +
# decideBySig + recordOutcome under 150,000): the IR pipeline at 10,000 runs keeps the crossing
# flow ~1,500 gas under its goal, where the legacy pipeline spends ~3,000 gas more and misses it;
# 1,000,000 runs saves under 100 gas more for ~10% more code.
OPTIMIZER: dict[str, Any] = {"enabled": True, "runs": 10_000}
VIA_IR = True
REMAPPINGS = ["@openzeppelin/=node_modules/@openzeppelin/"]
# The deployable contracts, each in contracts/src/<name>.sol; one artifact per contract.
CONTRACTS = ("ChildRegistry", "CrossingLedger", "AuditAnchor")


def find_solc() -> Path:
    """Return the compiler to hand py-solc-x: a native solc 0.8.28 if on PATH, else the shim.

    A `solc` that is a script rather than a binary is skipped: solc-select (a slither
    dependency) installs one into the venv that tries to download a compiler and hangs offline.
    """
    candidate = shutil.which("solc")
    if candidate is not None:
        path = Path(candidate)
        with path.open("rb") as handle:
            is_script = handle.read(2) == b"#!"
        if not is_script:
            try:
                result = subprocess.run(
                    [str(path), "--version"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired):
                result = None
            if result is not None and f"Version: {SOLC_VERSION}+" in result.stdout:
                return path
    return SHIM


def _source_unit_name(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def standard_input() -> dict[str, Any]:
    """The standard-JSON input: every file in contracts/src; the compiler resolves the imports."""
    sources = {
        _source_unit_name(path): {"content": path.read_text(encoding="utf-8")}
        for path in sorted(SOURCES_DIR.glob("*.sol"))
    }
    selection = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": OPTIMIZER,
            "viaIR": VIA_IR,
            "remappings": REMAPPINGS,
            # No metadata hash in the bytecode: the artifacts then depend only on the sources and
            # settings, not on comments' whitespace in the metadata JSON.
            "metadata": {"bytecodeHash": "none"},
            "outputSelection": {
                _source_unit_name(SOURCES_DIR / f"{name}.sol"): {name: selection}
                for name in CONTRACTS
            },
        },
    }


def sources_hash(source_units: list[str]) -> str:
    """sha256 over the sorted (path, content) pairs of every source unit that was compiled.

    Each pair is length-prefixed, so no two different source sets can hash the same.
    """
    digest = hashlib.sha256()
    for name in sorted(source_units):
        content = (REPO_ROOT / name).read_bytes()
        encoded_name = name.encode("utf-8")
        digest.update(len(encoded_name).to_bytes(8, "big") + encoded_name)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def build_artifacts(solc_binary: Path | None = None) -> dict[str, dict[str, Any]]:
    """Compile the contracts and return their artifacts, keyed by contract name.

    Args:
        solc_binary: The compiler to use; `find_solc()` when omitted.

    Raises:
        solcx.exceptions.SolcError: When the sources do not compile.
        RuntimeError: When the compiler is not solc 0.8.28 or an expected contract is missing.
    """
    binary = solc_binary or find_solc()
    version = get_solc_version(binary, with_commit_hash=True)
    if version.base_version != SOLC_VERSION:
        raise RuntimeError(f"{binary} is solc {version}, expected {SOLC_VERSION}")
    # The platform suffix (.Emscripten.clang, .Linux.g++) is dropped: it does not change the
    # bytecode, and keeping it would make the artifacts depend on which compiler was found.
    compiler_version = str(version)

    input_data = standard_input()
    output = solcx.compile_standard(
        input_data, base_path=REPO_ROOT, allow_paths=[REPO_ROOT], solc_binary=binary
    )
    digest = sources_hash(list(output["sources"]))

    artifacts: dict[str, dict[str, Any]] = {}
    for name in CONTRACTS:
        unit = _source_unit_name(SOURCES_DIR / f"{name}.sol")
        try:
            compiled = output["contracts"][unit][name]
        except KeyError as exc:
            raise RuntimeError(f"the compiler produced no output for {unit}:{name}") from exc
        artifacts[name] = {
            "contractName": name,
            "abi": compiled["abi"],
            "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            "compiler": {
                "version": compiler_version,
                "evmVersion": EVM_VERSION,
                "optimizer": OPTIMIZER,
                "viaIR": VIA_IR,
            },
            "sourcesHash": digest,
        }
    return artifacts


def render(artifact: dict[str, Any]) -> str:
    """The artifact's file content: sorted keys and a trailing newline, so builds are byte-equal."""
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def artifact_path(name: str, build_dir: Path = BUILD_DIR) -> Path:
    return build_dir / f"{name}.json"


def write_artifacts(
    artifacts: dict[str, dict[str, Any]], build_dir: Path = BUILD_DIR
) -> list[Path]:
    """Write each artifact to `build_dir/<name>.json` and return the paths written."""
    build_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in artifacts.items():
        path = artifact_path(name, build_dir)
        path.write_text(render(artifact), encoding="utf-8")
        written.append(path)
    return written


def stale_artifacts(
    artifacts: dict[str, dict[str, Any]], build_dir: Path = BUILD_DIR
) -> list[Path]:
    """The artifact files in `build_dir` that are missing or differ from `artifacts`."""
    stale = []
    for name, artifact in artifacts.items():
        path = artifact_path(name, build_dir)
        if not path.exists() or path.read_text(encoding="utf-8") != render(artifact):
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="recompile in memory and exit 1 when a committed artifact is stale",
    )
    args = parser.parse_args(argv)

    artifacts = build_artifacts()
    if args.check:
        stale = stale_artifacts(artifacts)
        for path in stale:
            print(
                f"stale artifact: {path.relative_to(REPO_ROOT)} does not match the sources; "
                "run `python scripts/compile_contracts.py`",
                file=sys.stderr,
            )
        if stale:
            return 1
        print(f"artifacts up to date: {', '.join(sorted(artifacts))}")
        return 0

    for path in write_artifacts(artifacts):
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
