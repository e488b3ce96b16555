"""What every console screen shares: header, footer, status line, store access, refresh."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from sqlmodel import Session
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from calsync_tui.service.backend import Backend

T = TypeVar("T")


class ConsoleHost(Protocol):
    """What a screen needs from the app that hosts it (`app.CalsyncApp` is one).

    Screens depend on this shape, not on the app module, so the app imports its screens
    and no screen imports the app (no import circle).
    """

    backend: Backend
    can_write: bool
    engine_state: str
    cycle_progress: tuple[int, int] | None

    def now(self) -> datetime: ...
    def tone(self, name: str) -> str: ...
    def status_text(self) -> str: ...
    def cycle_phase(self) -> str: ...
    def show_events(self, calendar_id: int) -> None: ...
    def show_lineage(self, ident: str) -> None: ...
    def post_message(self, message: Message) -> bool: ...
    def notify(self, message: str, *args: Any, **kwargs: Any) -> None: ...


def ago(when: datetime | None, now: datetime) -> str:
    """'3m ago' style age, stable under a fixed clock (snapshots)."""
    if when is None:
        return "never"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    secs = int((now - when).total_seconds())
    if secs < 0:
        return "just now"
    if secs < 60:
        return f"{secs}s ago"
    if secs < 3600:
        return f"{secs // 60}m ago"
    if secs < 86400:
        return f"{secs // 3600}h ago"
    return f"{secs // 86400}d ago"


class ConsoleScreen(Screen[None]):
    """A full screen of the console. Subclasses fill `body()` and `refresh_data()`."""

    TITLE_TEXT = ""

    @property
    def capp(self) -> ConsoleHost:
        return cast(ConsoleHost, self.app)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield from self.body()
        yield Static("", id="status-line", classes="status-line")
        yield Footer(compact=True)

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.sub_title = self.TITLE_TEXT
        self.refresh_data()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def now(self) -> datetime:
        return self.capp.now()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.capp.backend.session() as s:
            yield s

    def read(self, fn: Callable[[Session], T], default: T) -> T:
        """Run one read-model query; an unopened or broken store shows `default`."""
        if not self.capp.backend.is_open:
            return default
        try:
            with self.session() as s:
                return fn(s)
        except Exception as exc:  # a read must never take the console down
            self.capp.notify(f"could not read the store: {exc}", severity="error")
            return default

    def refresh_data(self) -> None:
        """Re-read the store and redraw; called on mount, resume and DataChanged."""
        self.update_status()

    def update_status(self) -> None:
        try:
            line = self.query_one("#status-line", Static)
        except Exception:
            return
        line.update(self.capp.status_text())
