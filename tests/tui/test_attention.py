"""Issue 15, the console's part: accounts whose writes are paused by Google's usage limit
(with the time) and writes Google refused for good (with Google's reason and what the
user can do) are shown, on the dashboard, the Alerts screen and the Accounts screen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from textual.widgets import DataTable, Static

from calsync_tui import clock
from calsync_tui.app import CalsyncApp
from calsync_tui.commands.demo import demo_world
from calsync_tui.messages import DataChanged
from calsync_tui.sandbox.demo import WORK
from calsync_tui.screens.accounts import AccountsScreen
from calsync_tui.screens.alerts import AlertsScreen
from calsync_tui.screens.dashboard import DashboardScreen
from calsync_tui.service import readmodel as rm
from calsync_tui.writes.lockout import trip
from calsync_tui.writes.refusals import refusals
from tests.tui.conftest import SIZE


def _text(widget: object) -> str:
    assert isinstance(widget, Static)
    return str(widget.render())


async def test_paused_accounts_and_refusals_are_shown_with_time_reason_and_advice(
    tmp_path: Path,
) -> None:
    with demo_world(tmp_path / "home", seed=7, events=60) as demo:
        app = CalsyncApp(home=demo.home.root, api_endpoint=demo.api_endpoint, start_engine=False)
        async with app.run_test(size=SIZE) as pilot:
            # An invitation from outside the account (guests may not modify it), then the
            # migration: Google refuses its stamp (403 forbiddenForNonOrganizer), and the
            # write path remembers the refusal against the event.
            start = (clock.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
            demo.server.invite(
                WORK,
                {
                    "summary": "Partner sync",
                    "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
                },
            )
            b = app.backend
            b.discover(lambda *a: None, lambda: False)
            b.backfill(b.plan(), lambda *a: None, lambda: False)
            b.rollout(100)  # hybrid: the engine stamps sources, and remembers the refusal
            b.run_cycle(dry_run=False, on_event=lambda ev: None, cancel=lambda: False)
            with b.session() as s:
                refused = refusals(s)
            assert [r.event_title for r in refused] == ["Partner sync"]
            # Google's usage limit for the work account (the write path's own function)
            with app.backend.context().store.engine.begin() as conn:
                lock = trip(conn, WORK, clock.now())
            hhmm = rm.clock_time(lock.until, clock.now())  # 14:20, or Dec 2 00:10
            assert hhmm.endswith(lock.until.astimezone().strftime("%H:%M"))
            app.post_message(DataChanged())
            await pilot.pause()
            assert isinstance(app.screen, DashboardScreen)
            panel = _text(app.screen.query_one("#dash-attention"))
            assert f"{WORK}: writes paused until {hhmm}" in panel, panel
            assert "Google's usage limit" in panel and "nothing is lost" in panel
            assert f"{len(refused)} write(s) Google refused" in panel, panel
            assert "a lists them" in panel

            await pilot.press("a")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, AlertsScreen)
            table: DataTable[object] = screen.query_one("#refusals", DataTable)
            assert table.row_count == len(refused)
            first = [str(c) for c in table.get_row_at(0)]
            r0 = refused[0]
            assert r0.reason in first and r0.event_title in first
            advice = _text(screen.query_one("#refusal-advice"))
            assert f"{r0.reason}: {r0.advice}" in advice, advice
            assert f"{WORK}: writes paused until {hhmm}" in _text(
                screen.query_one("#alerts-paused")
            )

            await pilot.press("u")
            await pilot.pause()
            accounts = app.screen
            assert isinstance(accounts, AccountsScreen)
            t: DataTable[object] = accounts.query_one("#accounts", DataTable)
            row = [str(c) for c in t.get_row(WORK)]
            assert any(f"writes paused until {hhmm}" in c for c in row), row
