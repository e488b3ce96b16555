"""Issue 16: the rollback confirmation shows each write as a person reads it, like the
plan review (the same `PlanLine`s in the same `PlanTable`): calendar, when, title in full,
before → after, why; ids last. Live sandbox, real app, real SQLite; at 80×24 the write
list still shows rows and the buttons stay on screen."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from calsync_tui.app import CalsyncApp
from calsync_tui.commands.demo import demo_world
from calsync_tui.screens.confirm import ConfirmScreen
from calsync_tui.screens.migration import MigrationScreen
from calsync_tui.widgets.plan_table import PlanTable

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def test_level_2_confirmation_lists_every_undo_as_a_person_reads_it(tmp_path: Path) -> None:
    with demo_world(tmp_path / "home", seed=7, events=60, now=NOW) as demo:
        app = CalsyncApp(home=demo.home.root, api_endpoint=demo.api_endpoint, start_engine=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("m", "v")
            await app.workers.wait_for_complete()
            await pilot.press("p")
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, MigrationScreen) and screen.plan is not None
            planned = {(ln.calendar_id, ln.google_event_id): ln for ln in screen.plan.lines}
            await pilot.press("y")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            writes_before = demo.server.stats()["writes"]
            await pilot.press("2")
            await app.workers.wait_for_complete()
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, ConfirmScreen)
            table = dialog.query_one("#confirm-writes", PlanTable)
            assert table.row_count == len(dialog.writes) > 0
            assert table.scrollable_content_region.height >= 2  # rows, not just a header
            assert dialog.query_one("#confirm-no").region.bottom <= 24
            labels = [str(c.label) for c in table.columns.values()]
            assert labels == [
                "#",
                "calendar",
                "when",
                "title",
                "what changes",
                "why",
                "op",
                "event id",
            ]
            for n, line in enumerate(dialog.writes):
                row = [str(c) for c in table.get_row_at(n)]
                assert row[3] == (line.title or "(no title)") and row[5] == line.reason
                assert row[4] == line.change_text and row[7] == line.google_event_id
                was = planned.get((line.calendar_id, line.google_event_id))
                if was is not None and was.op == "stamp":
                    # the stamp is undone: our id goes away, before → after
                    assert line.op == "restore" and "private.calsync_id: " in row[4], row
                    assert "→ —" in row[4], row
                if was is not None and was.op == "insert":
                    assert line.op == "delete" and row[4] == "status: confirmed → deleted"
            await pilot.press("n")
            await pilot.pause()
            assert demo.server.stats()["writes"] == writes_before  # the dry run wrote nothing
