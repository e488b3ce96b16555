"""The launch rule on a live sandbox: a home that never synced gets a dry run and waits for
`s`; once it has synced, the loop resumes at launch; the demo writes at once and the
dashboard shows the cycle's writes as done/total."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select
from textual.message import Message

from calsync_tui.app import CalsyncApp
from calsync_tui.commands.demo import DEMO_SETTINGS, demo_world
from calsync_tui.engine.events import MutationsProgress
from calsync_tui.messages import CycleFinished, EngineEvent
from calsync_tui.screens.dashboard import DashboardScreen
from calsync_tui.settings import load_settings
from local_store.db import open_store
from local_store.models import SyncRun
from tests.tui.conftest import SIZE


def _run_kinds(root: Path) -> list[str]:
    store = open_store(root / "calsync.db", root / "backups")
    try:
        with store.session() as s:
            return [r.kind for r in s.exec(select(SyncRun).order_by(col(SyncRun.id))).all()]
    finally:
        store.close()


async def test_fresh_home_dry_runs_then_waits_for_s(tmp_path: Path) -> None:
    with demo_world(tmp_path / "home", seed=7, events=40) as demo:
        writes_before = demo.server.stats()["writes"]
        seen: list[Message] = []
        app = CalsyncApp(home=demo.home.root, api_endpoint=demo.api_endpoint)
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            # A dry run ran, nothing reached Google, and no cycle is scheduled.
            assert demo.server.stats()["writes"] == writes_before
            assert [m.dry_run for m in seen if isinstance(m, CycleFinished)] == [True]
            assert app.engine_state == "review" and app.next_cycle_at is None
            assert "s starts syncing" in app.status_text().replace("[b]", "").replace("[/b]", "")
            would = next(m for m in seen if isinstance(m, CycleFinished)).summary
            assert would.startswith("would write ") and not would.startswith("would write 0")

            await pilot.press("s")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert demo.server.stats()["writes"] > writes_before
            assert app.auto_sync is True
            assert app.engine_state == "idle" and app.next_cycle_at is not None
        assert _run_kinds(demo.home.root) == ["dry_run", "sync"]

        # Synced before: the next launch resumes the loop without asking.
        again = CalsyncApp(home=demo.home.root, api_endpoint=demo.api_endpoint)
        async with again.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert again.auto_sync is True
            assert again.engine_state in ("idle", "running")


async def test_demo_writes_at_once_with_progress(tmp_path: Path) -> None:
    with demo_world(tmp_path / "home", seed=7, events=120) as demo:
        assert load_settings(demo.home).requests_per_minute == DEMO_SETTINGS["requests_per_minute"]
        progress: list[tuple[int, int]] = []
        bar_seen: list[str] = []

        def hook(msg: Message) -> None:
            if isinstance(msg, EngineEvent) and isinstance(msg.event, MutationsProgress):
                progress.append((msg.event.done, msg.event.total))

        app = CalsyncApp(home=demo.home.root, api_endpoint=demo.api_endpoint, auto_sync=True)
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            while not app.last_cycle:
                await pilot.pause(0.05)
                screen = app.screen
                if isinstance(screen, DashboardScreen) and app.cycle_progress:
                    label = str(screen.query_one("#cycle-label").render())
                    if "writing" in label:
                        bar_seen.append(label)
            await app.workers.wait_for_complete()
        assert progress and progress[-1][0] == progress[-1][1] > 0
        assert bar_seen and all("/" in s for s in bar_seen)
        assert app.last_cycle.startswith("cycle ") and "wrote " in app.last_cycle
        assert _run_kinds(demo.home.root)[0] == "sync"
