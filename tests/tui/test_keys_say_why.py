"""Issue 16 defects 8 and 14: every key acts or says in one line why not and what to
press instead, in console terms; the cutover dialog offers no yes that will be refused;
a redraw keeps the plan drill-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Button, DataTable

from calsync_tui.app import CalsyncApp
from calsync_tui.home import AppHome
from calsync_tui.screens.confirm import ConfirmScreen
from calsync_tui.screens.migration import MigrationScreen, console_terms
from tests.tui.conftest import SIZE
from tests.tui.test_snapshots import review_plan


def _said(seen: list[Message]) -> list[str]:
    return [m.notification.message for m in seen if isinstance(m, Notify)]


async def test_migration_keys_with_nothing_to_act_on_say_why(
    make_app: Callable[..., CalsyncApp],
) -> None:
    seen: list[Message] = []
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await pilot.press("m")
        await pilot.pause()
        for key, expected in (
            ("n", "no plan under review: p computes one"),
            ("x", "nothing is running to stop"),
            ("space", "nothing runs: space pauses a running backfill"),
            ("o", "no new rollout target: + or - sets one"),
            ("y", "no plan to approve: press p"),
        ):
            before = len(_said(seen))
            await pilot.press(key)
            await pilot.pause()
            said = _said(seen)[before:]
            assert len(said) == 1 and said[0].startswith(expected), (key, said)
            assert "migrate " not in said[0]  # console terms, not CLI commands


async def test_approve_while_paused_says_space_resumes(
    make_app: Callable[..., CalsyncApp], data_home: AppHome
) -> None:
    seen: list[Message] = []
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await pilot.press("m")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MigrationScreen)
        app.backend.set_paused(True)
        screen.show_plan(review_plan(data_home))
        before = len(_said(seen))
        await pilot.press("y")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)  # no offer to run all the writes
        said = _said(seen)[before:]
        assert said == ["the migration is paused: space resumes the interrupted backfill first"]


def test_core_refusals_are_put_in_console_terms() -> None:
    assert console_terms("the migration is paused: run `migrate resume` first") == (
        "the migration is paused: press space first"
    )
    assert console_terms("no calendar is rolled out yet: run `migrate rollout --percent N`") == (
        "no calendar is rolled out yet: set a target with + or - and press o"
    )


async def test_a_refused_cutover_offers_no_yes(make_app: Callable[..., CalsyncApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        lines = [
            "Engine mode uuid on every calendar; legacy detection off.",
            "",
            "Rollout gate: NOT passed",
            "  no calendar is rolled out yet: run `migrate rollout --percent N`",
            "Yes will be refused until the gate passes (nothing is written).",
        ]
        done: list[Any] = []
        screen = app.screen
        assert not isinstance(screen, ConfirmScreen)
        from calsync_tui.screens.migration import _refusal

        lines = [console_terms(x) for x in lines]
        app.push_screen(ConfirmScreen("Cut over?", lines, refusal=_refusal(lines)), done.append)
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ConfirmScreen)
        assert [b.id for b in modal.query(Button)] == ["confirm-no"]
        await pilot.press("y")
        await pilot.pause()
        assert app.screen is modal and done == []  # y is refused, with a reason
        await pilot.press("n")
        await pilot.pause()
        assert done == [False]


async def test_a_redraw_keeps_the_plan_drill_in(
    make_app: Callable[..., CalsyncApp], data_home: AppHome
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MigrationScreen)
        screen.show_plan(review_plan(data_home))
        await pilot.press("down")
        await pilot.pause()
        totals: DataTable[Any] = screen.query_one("#plan-totals", DataTable)
        row = totals.cursor_row
        assert row == 1
        table: DataTable[Any] = screen.query_one("#plan-writes", DataTable)
        writes = [str(table.get_row_at(i)[4]) for i in range(table.row_count)]
        assert writes
        screen.refresh_data()  # what every cycle does
        await pilot.pause()
        assert totals.cursor_row == row
        assert [str(table.get_row_at(i)[4]) for i in range(table.row_count)] == writes


async def test_status_line_during_a_backfill_on_a_first_launch_home(
    make_app: Callable[..., CalsyncApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.engine_state = "review"  # the first launch's dry run is waiting for s
        app.migration_task = "backfill"
        app.migration_progress = (650, 760, 0)
        text = app.status_text()
        assert text.startswith("backfill 650/760")
        assert "nothing written yet" not in text
        assert "s starts syncing" in text
