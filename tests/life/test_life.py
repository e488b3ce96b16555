"""Months of simulated life against the strict sandbox (tests/life/sim.py), via the CLI.

Every step's cycles must exit 0 with no failed mutation, and after them the invariants
must hold as Google shows them (one block per source per target in the window, no
cascades, no orphans, nothing stuck, rows agree with Google) and the person's events
must be as the person left them. The product is expected to fail until issue 15: those
cases are xfail(strict=True) with the figures measured when they were written, so they
turn into failures the moment they pass.
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


ISSUE_15 = "issue 15: {what} (measured with seed 1, 60 days, a step every 3 days, one cycle each)"


def test_sixty_days(life_sb: SandboxServer, tmp_path: Path) -> None:
    life, results = run_life(life_sb, tmp_path, seed=1, days=60)
    check(life, results, "life seed 1, 60 days:")


# ---- campaign: longer lives, several seeds, one hazard at a time ----------------------
@pytest.mark.campaign
def test_sixty_days_without_hazards(life_sb: SandboxServer, tmp_path: Path) -> None:
    """The same life with nothing Google refuses for good: the product copes."""
    life, results = run_life(life_sb, tmp_path, seed=1, days=60, hazards=frozenset())
    check(life, results, "life seed 1, 60 days, no hazards:")


HAZARD_XFAIL = {
    "burst": "cycles inside the 3-hour usage lockout exit 1 with quotaExceeded; blocks "
    "for the burst (15 events) are missing until the next step (still failing after the "
    "issue 15 fixes: not yet diagnosed)",
}


@pytest.mark.campaign
@pytest.mark.parametrize(
    "hazard",
    [
        pytest.param(h, marks=pytest.mark.xfail(strict=True, reason=HAZARD_XFAIL[h]))
        if h in HAZARD_XFAIL
        else h
        for h in sorted(HAZARDS)
    ],
)
def test_sixty_days_one_hazard(life_sb: SandboxServer, tmp_path: Path, hazard: str) -> None:
    life, results = run_life(life_sb, tmp_path, seed=1, days=60, hazards=frozenset({hazard}))
    check(life, results, f"life seed 1, 60 days, only {hazard}:")


@pytest.mark.campaign
@pytest.mark.xfail(
    strict=True,
    reason="issue 15: as test_sixty_days over 120 days, two cycles a step; seed 2 measured: "
    "78 of 80 cycles exit 1, 1488 failed mutations (406 duplicate, 330 "
    "forbiddenForNonOrganizer, 194 quotaExceeded, 56 deleted), 367 block-steps missing "
    "(up to 118 in the step after a burst), 4 orphans; measured before the issue 15 "
    "fixes, still failing after them (not yet diagnosed)",
)
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
