"""Issue 16 defect 2: `q` during a backfill asks (stop after this batch / keep running in
the background / cancel) and says what it did, instead of a blank terminal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from calsync_tui.app import CalsyncApp
from calsync_tui.screens.migration import MigrationScreen
from calsync_tui.screens.quit import QuitScreen
from local_store import queries
from local_store.db import open_store


def _slow_backfill(app: CalsyncApp) -> Callable[..., str]:
    """Batches of writes that stop when the store says paused (as the journal runner does)."""

    def run(
        progress: Callable[[int, int, int], None], cancel: Callable[[], bool]
    ) -> dict[str, Any]:
        total = 760
        for step in range(3000):  # ~60 s at most; the tests pause it long before
            done = min(total - 10, step)
            progress(done, total, 0)
            with app.backend.session() as s:
                if queries.peek_migration_state(s).paused:
                    return f"paused {done}/{total}, space resumes"
            time.sleep(0.02)
        return f"done {total}/{total}"

    return run


async def _start(app: CalsyncApp, pilot: Any) -> MigrationScreen:
    await pilot.press("m")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, MigrationScreen)
    screen._run("backfill", _slow_backfill(app))
    for _ in range(50):
        await asyncio.sleep(0.02)
        if app.migration_progress and app.migration_progress[0] >= 100:
            break
    return screen


async def test_quit_asks_and_stop_after_this_batch_says_so(
    make_app: Callable[..., CalsyncApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _start(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("c")  # cancel: still running, still here
        await pilot.pause()
        assert not isinstance(app.screen, QuitScreen) and app.migration_task == "backfill"
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("s")
        for _ in range(200):
            await asyncio.sleep(0.02)
            if app.exit_note:
                break
    assert app.exit_note is not None
    assert "the backfill stopped after its batch at " in app.exit_note
    assert "/760 (paused)" in app.exit_note and "space" in app.exit_note
    store = open_store(app.home.db_path, app.home.backups_dir)
    try:
        with store.session() as s:
            assert queries.peek_migration_state(s).paused
    finally:
        store.close()


async def test_quit_offers_no_background_in_the_demo(make_app: Callable[..., CalsyncApp]) -> None:
    app = make_app()
    app.background_reason = "the demo's Google sandbox lives in this process"
    async with app.run_test(size=(120, 40)) as pilot:
        await _start(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        assert not app.screen.query("#quit-background")
        await pilot.press("b")  # refused, says why, dialog stays
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("s")
        for _ in range(200):
            await asyncio.sleep(0.02)
            if app.exit_note:
                break
    assert app.exit_note and "stopped after its batch" in app.exit_note


async def test_keep_running_hands_the_plan_to_a_background_resume(
    make_app: Callable[..., CalsyncApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _start(app, pilot)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("b")
        for _ in range(200):
            await asyncio.sleep(0.02)
            if app.exit_note:
                break
    assert app.exit_note and "continues in the background" in app.exit_note
    assert app.background_pid is not None
    _wait_for_child(app.background_pid)
    log = (app.home.root / "background-resume.log").read_text()
    assert "Traceback" not in log, log


def _wait_for_child(pid: int) -> None:
    """The child (`migrate resume`) runs and ends on its own."""
    import os

    for _ in range(300):
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.1)
