"""Pilot journeys on the real app over a real SQLite store."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import col, func, select
from textual.widgets import Tree

from calsync_tui.app import CalsyncApp
from calsync_tui.home import AppHome
from calsync_tui.screens.confirm import ConfirmScreen
from calsync_tui.screens.events import EventsScreen
from calsync_tui.screens.lineage import LineageScreen
from calsync_tui.widgets.event_list import EventList
from local_store.db import open_store
from local_store.models import Calendar, EventState
from tests.tui.conftest import SIZE


def _count(home: AppHome, calendar: str, text: str) -> int:
    store = open_store(home.db_path, home.backups_dir)
    try:
        with store.session() as s:
            cal = s.exec(select(Calendar).where(Calendar.summary == calendar)).one()
            like = f"%{text}%"
            q = (
                select(func.count())
                .select_from(EventState)
                .where(EventState.calendar_id == cal.id)
                .where(
                    col(EventState.summary).ilike(like)
                    | col(EventState.event_class).ilike(like)
                    | col(EventState.status).ilike(like)
                    | col(EventState.google_event_id).ilike(like)
                    | col(EventState.correlation_id).ilike(like)
                )
            )
            return int(s.exec(q).one())
    finally:
        store.close()


def _modes(home: AppHome) -> dict[str, str]:
    store = open_store(home.db_path, home.backups_dir)
    try:
        with store.session() as s:
            return {c.summary: c.engine_mode for c in s.exec(select(Calendar)).all()}
    finally:
        store.close()


async def test_filter_events_table(make_app: Callable[..., CalsyncApp], data_home: AppHome) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        lst = screen.query_one(EventList)
        cal = next(
            iter(c for c in ("Work", "Personal", "Side project") if screen.calendar_id is not None)
        )
        total = lst.row_count
        assert total > 0
        await pilot.press("slash", *"Busy", "enter")
        await pilot.pause()
        assert app.focused is lst
        name = screen.read(lambda s: s.get(Calendar, screen.calendar_id).summary, "")  # type: ignore[union-attr]
        assert cal and name
        expected = _count(data_home, name, "Busy")
        assert 0 < lst.row_count == expected < total
        assert all("busy" in (lst.row(i).summary.lower()) for i in range(lst.row_count))  # type: ignore[union-attr]


async def test_open_lineage_from_a_row(make_app: Callable[..., CalsyncApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        lst = screen.query_one(EventList)
        target = next(i for i in range(lst.row_count) if lst.row(i).event_class == "busy_block")  # type: ignore[union-attr]
        for _ in range(target):
            await pilot.press("down")
        block = lst.current
        assert block is not None and block.source_correlation_id
        await pilot.press("enter")
        await pilot.pause()
        lineage = app.screen
        assert isinstance(lineage, LineageScreen)
        tree: Tree[None] = lineage.query_one("#lineage-tree", Tree)
        labels: list[str] = []
        stack = [tree.root]
        while stack:
            node = stack.pop()
            labels.append(str(node.label))
            stack.extend(node.children)
        assert any(block.source_correlation_id in lab for lab in labels)
        assert any(block.google_event_id in lab for lab in labels)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, EventsScreen)


async def test_rollback_level_1_from_the_keyboard(
    make_app: Callable[..., CalsyncApp], data_home: AppHome
) -> None:
    assert _modes(data_home)["Work"] == "hybrid"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m", "1")
        await app.workers.wait_for_complete()
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ConfirmScreen)
        text = "\n".join(modal.lines)
        assert "Work" in text and "legacy" in text
        assert "Personal" not in text  # already legacy: not part of what will happen
        await pilot.press("n")  # cancelling changes nothing
        await pilot.pause()
        assert _modes(data_home)["Work"] == "hybrid"
        await pilot.press("1")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert set(_modes(data_home).values()) == {"legacy"}


async def test_help_palette_and_theme(make_app: Callable[..., CalsyncApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape", "t")
        await pilot.pause()
        assert app.theme == "textual-light"
        from calsync_tui.palette import console_commands

        names = [n for n, _, _ in console_commands(app)]
        assert "Rollback level 1" in names and "Go to Migration" in names
