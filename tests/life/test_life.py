"""Two months of simulated life (and a longer campaign) against the strict sandbox.

See tests/life/sim.py for what the person does. Each step's cycles must exit 0 with no
failed mutation, and the invariants must hold as Google shows them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from calsync_tui.sandbox.server import SandboxServer
from tests.life.sim import run_life, summary


@pytest.fixture
def life_sb() -> Iterator[SandboxServer]:
    # The quota model is off as in the engine's fixtures (pacing would make this minutes);
    # every strict behaviour is on.
    with SandboxServer(quota_per_user=None, quota_per_project=None) as srv:
        yield srv


def check(results: list, label: str) -> None:  # type: ignore[type-arg]
    got = summary(results)
    print(label, got)
    assert got["steps_clean"] == got["steps"], got


def test_sixty_days(life_sb: SandboxServer, tmp_path: Path) -> None:
    check(run_life(life_sb, tmp_path, seed=1, days=60), "life seed 1, 60 days:")


@pytest.mark.campaign
@pytest.mark.parametrize("seed", [2, 3, 4])
def test_hundred_twenty_days(life_sb: SandboxServer, tmp_path: Path, seed: int) -> None:
    check(run_life(life_sb, tmp_path, seed=seed, days=120), f"life seed {seed}, 120 days:")
