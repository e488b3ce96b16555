"""Issue 16: a first launch on a calendar set with legacy blocks says so plainly and
points to the migration (m) before offering s."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message
from textual.notifications import Notify

from calsync_tui.app import CalsyncApp
from calsync_tui.commands.demo import demo_world
from tests.tui.conftest import SIZE


async def test_first_launch_with_legacy_blocks_points_to_the_migration(tmp_path: Path) -> None:
    with demo_world(tmp_path / "home", seed=7, events=40) as demo:
        seen: list[Message] = []
        app = CalsyncApp(home=demo.home.root, api_endpoint=demo.api_endpoint)
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.engine_state == "review"
            assert app.legacy_blocks > 0
            text = app.status_text()
            m_at, s_at = text.index("m migrates them first"), text.index("s starts syncing")
            assert m_at < s_at
            said = [m.notification.message for m in seen if isinstance(m, Notify)]
            assert any("busy blocks of the old emoji/title system" in x for x in said)
