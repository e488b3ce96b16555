"""Issue 16 defect 1: user and Google text is never parsed as markup.

Typing `[/` into the Events filter crashed the console (MarkupError); `%_[(*\\'` showed a
stray `[/b]`. Calendar names, titles, reasons and account errors from Google are the
same kind of text: every screen must show them as typed.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import select
from textual.widgets import Static

from calsync_tui.app import CalsyncApp
from calsync_tui.home import AppHome
from calsync_tui.screens.events import EventsScreen
from local_store.db import open_store
from local_store.models import Account, Calendar, EventState, Mutation
from tests.tui.conftest import SIZE

HOSTILE = "[/b] [bold red]x[/] \\ [@click=app.quit]q[/] [/"


def _plain(widget: Static) -> str:
    return str(widget.render())


async def test_filter_with_markup_characters_shows_them_as_typed(
    make_app: Callable[..., CalsyncApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e", "slash", "left_square_bracket", "slash")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        assert "filter: [/" in _plain(screen.query_one("#events-title", Static))
        await pilot.press("backspace", "backspace", *"%_[(*\\'")
        await pilot.pause()
        title = _plain(screen.query_one("#events-title", Static))
        assert "filter: %_[(*\\'" in title and "[/b]" not in title
    assert app.return_code in (0, None)


def _poison(home: AppHome) -> None:
    """Hostile text everywhere Google or the person can put text."""
    store = open_store(home.db_path, home.backups_dir)
    try:
        with store.session() as s:
            for cal in s.exec(select(Calendar)).all():
                cal.summary = f"{cal.summary} {HOSTILE}"
                s.add(cal)
            for e in s.exec(select(EventState)).all():
                e.summary = f"{e.summary} {HOSTILE}"
                e.error = HOSTILE if e.error else None
                s.add(e)
            for m in s.exec(select(Mutation)).all():
                m.reason = f"{m.reason} {HOSTILE}"
                s.add(m)
            for a in s.exec(select(Account)).all():
                if a.signin_error:
                    a.signin_error = HOSTILE
                    s.add(a)
            s.commit()
    finally:
        store.close()


async def test_every_screen_shows_hostile_google_text_without_crashing(
    make_app: Callable[..., CalsyncApp], data_home: AppHome
) -> None:
    _poison(data_home)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for key in ("d", "e", "down", "enter", "escape", "m", "j", "a", "u", "d", "question_mark"):
            await pilot.press(key)
            await pilot.pause()
        await pilot.press("escape", "e")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        assert HOSTILE in _plain(screen.query_one("#events-title", Static))
    assert app.return_code in (0, None)


class _Crashes(CalsyncApp):
    def on_mount(self) -> None:
        raise RuntimeError("boom")


def test_a_traceback_makes_the_console_exit_non_zero(data_home: AppHome) -> None:
    from calsync_tui.commands.tui import run_app

    app = _Crashes(home=data_home.root, start_engine=False)
    assert run_app(app, headless=True) == 1
