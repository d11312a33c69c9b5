"""Fixtures of the contract suite: one deployment per module and chain, shared by its tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import World
from tests.integration.contract_helpers import CHAINS, Desk, shared_world


@pytest.fixture(scope="module", params=CHAINS)
def module_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Every test that uses it draws its own children and requests, so sharing is safe."""
    yield from shared_world(request, tmp_path_factory)


@pytest.fixture(scope="module")
def desk(module_world: World) -> Desk:
    return Desk(module_world)
