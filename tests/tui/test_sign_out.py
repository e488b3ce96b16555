"""Issue 16 defect 5: signing out asks, stops that account's reads and writes, shows its
calendars paused; in the demo, signing back in works."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from calsync_tui.app import CalsyncApp
from calsync_tui.commands.demo import demo_world
from calsync_tui.sandbox.demo import DEMO_ACCOUNTS, PERSONAL
from calsync_tui.screens.accounts import AccountsScreen
from calsync_tui.screens.confirm import ConfirmScreen
from calsync_tui.screens.dashboard import DashboardScreen
from tests.tui.conftest import SIZE


def _cycle(app: CalsyncApp) -> None:
    app.backend.run_cycle(dry_run=False, on_event=lambda ev: None, cancel=lambda: False)


async def test_sign_out_asks_pauses_the_account_and_signs_back_in(tmp_path: Path) -> None:
    with demo_world(tmp_path / "home", seed=7, events=40) as demo:
        app = CalsyncApp(home=demo.home.root, api_endpoint=demo.api_endpoint, start_engine=False)
        app.backend.static_tokens = dict(DEMO_ACCOUNTS)
        async with app.run_test(size=SIZE) as pilot:
            _cycle(app)
            await pilot.press("u")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, AccountsScreen)
            table: DataTable[object] = screen.query_one(DataTable)
            keys = [k.value for k in table.rows]
            table.move_cursor(row=keys.index(PERSONAL))
            await pilot.press("o")
            await pilot.pause()
            modal = app.screen
            assert isinstance(modal, ConfirmScreen)  # it asks, naming what pauses
            assert any("reads and writes none of its calendars" in ln for ln in modal.lines)
            await pilot.press("y")
            await app.workers.wait_for_complete()
            await pilot.pause()

            demo.server.reset_stats()
            _cycle(app)
            assert PERSONAL not in demo.server.stats()["by_user"]  # no read, no write

            await pilot.press("d")
            await pilot.pause()
            dash = app.screen
            assert isinstance(dash, DashboardScreen)
            dash.refresh_data()
            await pilot.pause()
            grid: DataTable[object] = dash.query_one("#calendars", DataTable)
            health = {
                str(grid.get_row_at(i)[1]): str(grid.get_row_at(i)[-1])
                for i in range(grid.row_count)
            }
            personal = PERSONAL.rsplit(".", 1)[0]
            assert health[personal] == "paused", health

            await pilot.press("u")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, AccountsScreen)
            table = screen.query_one(DataTable)
            keys = [k.value for k in table.rows]
            table.move_cursor(row=keys.index(PERSONAL))
            await pilot.press("i")
            await app.workers.wait_for_complete()
            await pilot.pause()
            demo.server.reset_stats()
            _cycle(app)
            assert demo.server.stats()["by_user"].get(PERSONAL, 0) > 0  # reading again
