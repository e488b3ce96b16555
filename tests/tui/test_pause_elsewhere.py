"""Issue 16 defect 14: `migrate pause` from another terminal shows in the console on its
next poll, without waiting for a sync cycle."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from calsync_tui.app import CalsyncApp
from calsync_tui.screens.migration import MigrationScreen
from calsync_tui.widgets.phase_stepper import PhaseStepper
from tests.tui.conftest import SIZE


def _cli(home: Path, *argv: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    out = subprocess.run(
        [sys.executable, "-m", "calsync_tui", *argv, "--home", str(home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


def _stepper(screen: MigrationScreen) -> str:
    return str(screen.query_one(PhaseStepper).render())


async def test_pause_from_another_terminal_shows_on_the_next_poll(
    make_app: Callable[..., CalsyncApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MigrationScreen)
        assert "paused" not in _stepper(screen)
        await asyncio.to_thread(_cli, app.home.root, "migrate", "pause")
        for _ in range(60):  # no cycle runs (engine off): only the poll can notice
            await asyncio.sleep(0.1)
            if "paused" in _stepper(screen):
                break
        assert "paused" in _stepper(screen)
