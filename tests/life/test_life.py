"""Months of simulated life against the strict sandbox (tests/life/sim.py), via the CLI.

Every step's cycles must exit 0 with no failed mutation, and after them the invariants
must hold as Google shows them (one block per source per target in the window, no
cascades, no orphans, nothing stuck, rows agree with Google) and the person's events
must be as the person left them (issue 15: short in CI, long in the campaign).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from calsync_tui.sandbox.server import SandboxServer
from tests.life.sim import HAZARDS, Life, StepResult, run_life, summary


@pytest.fixture
def life_sb() -> Iterator[SandboxServer]:
    # The quota model is off as in the engine's fixtures (pacing would take minutes);
    # every strict behaviour is on, none lenient.
    with SandboxServer(quota_per_user=None, quota_per_project=None) as srv:
        yield srv


def check(life: Life, results: list[StepResult], label: str) -> None:
    got = summary(life, results)
    print(label, got)
    assert got["steps_clean"] == got["steps"], got


def test_sixty_days(life_sb: SandboxServer, tmp_path: Path) -> None:
    life, results = run_life(life_sb, tmp_path, seed=1, days=60)
    check(life, results, "life seed 1, 60 days:")


# ---- campaign: longer lives, several seeds, one hazard at a time ----------------------
@pytest.mark.campaign
def test_sixty_days_without_hazards(life_sb: SandboxServer, tmp_path: Path) -> None:
    """The same life with nothing Google refuses for good: the product copes."""
    life, results = run_life(life_sb, tmp_path, seed=1, days=60, hazards=frozenset())
    check(life, results, "life seed 1, 60 days, no hazards:")


@pytest.mark.campaign
@pytest.mark.parametrize("hazard", sorted(HAZARDS))
def test_sixty_days_one_hazard(life_sb: SandboxServer, tmp_path: Path, hazard: str) -> None:
    life, results = run_life(life_sb, tmp_path, seed=1, days=60, hazards=frozenset({hazard}))
    check(life, results, f"life seed 1, 60 days, only {hazard}:")


@pytest.mark.campaign
@pytest.mark.parametrize("seed", [2, 3, 4])
def test_hundred_twenty_days(life_sb: SandboxServer, tmp_path: Path, seed: int) -> None:
    life, results = run_life(life_sb, tmp_path, seed=seed, days=120, cycles=2)
    check(life, results, f"life seed {seed}, 120 days:")


@pytest.mark.campaign
def test_series_entering_the_window_after_a_410(life_sb: SandboxServer, tmp_path: Path) -> None:
    life, results = run_life(
        life_sb, tmp_path, seed=1, days=42, hazards=frozenset(), expire_tokens_at=7
    )
    check(life, results, "life seed 1, 42 days, tokens expired at step 7:")
