"""Issue 16: plan review at 80x24 still shows the writes, each with its full title and
reason; ids come last."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable

from calsync_tui.app import CalsyncApp
from calsync_tui.home import AppHome
from calsync_tui.screens.migration import MigrationScreen
from tests.tui.test_snapshots import review_plan


async def test_plan_review_at_80x24_shows_rows_in_full(
    make_app: Callable[..., CalsyncApp], data_home: AppHome
) -> None:
    plan = review_plan(data_home)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MigrationScreen)
        screen.show_plan(plan)
        await pilot.pause()
        assert not screen.query_one("#mig-left").display
        writes: DataTable[Any] = screen.query_one("#plan-writes", DataTable)
        assert writes.scrollable_content_region.height >= 4  # rows, not just a header
        labels = [str(c.label) for c in writes.columns.values()]
        # the event (when, title), what changes and why first; the op and the id last
        assert labels == ["#", "when", "title", "what changes", "why", "op", "event id"]
        first = writes.get_row_at(0)
        line = next(ln for ln in plan.lines if str(ln.seq) == str(first[0]))
        assert str(first[2]) == (line.title or "(no title)") and str(first[4]) == line.reason
        assert str(first[3]) == line.change_text and str(first[6]) == line.google_event_id
