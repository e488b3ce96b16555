"""What every console screen shares: header, key bar, status line, store access, refresh.

Refresh (Toolong/Harlequin style): a screen that draws from the store splits its redraw
in two, `load_view(params)` (every store read, in a thread worker of its own group,
one at a time) and `show_view(view)` (the drawing, on the UI thread). `refresh_data()` starts
the read; requests that arrive while one read runs coalesce into one more read after it,
so a burst of engine progress costs at most two reads and never a read on the UI thread.
A result whose parameters (`view_params`, e.g. the filter) no longer match what the
screen shows is dropped and read again. While a cycle writes, the app pushes its progress
(done/total) and calls `refresh_live()`, which reads only what a screen shows of the
writes (push of what changed, not a re-read of everything).

Switching (`d`, `e`, `m`…): every screen stays installed (one per mode) and comes back
with its last view painted at once, then reads in place. A screen coming back is not
restyled when nothing its styles depend on changed while it was hidden (Textual restyles
the whole screen on every resume, which also drops every table's rendered lines: most of
a switch's time). Redraws touch only what changed (`set_content`; tables update the
cells that differ): a repaint or a layout pass is the UI thread's costliest work.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from rich.text import Text
from sqlmodel import Session
from textual import events, on
from textual.app import ComposeResult
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.visual import VisualType
from textual.widgets import Header, Static

from calsync_tui.service.backend import Backend
from calsync_tui.widgets.key_bar import KeyBar

T = TypeVar("T")

SHARED_MAX_AGE_S = 2.0  # how long one read of the calendars may serve the screens


class ConsoleHost(Protocol):
    """What a screen needs from the app that hosts it (`app.CalsyncApp` is one).

    Screens depend on this shape, not on the app module, so the app imports its screens
    and no screen imports the app (no import circle).
    """

    backend: Backend
    can_write: bool
    engine_state: str
    cycle_progress: tuple[int, int] | None
    # The migration task running in the cockpit's worker and its progress (quit asks).
    migration_task: str | None
    migration_progress: tuple[int, int, int] | None
    # Reads several screens make, shared (`ConsoleScreen.read_shared`).
    data_generation: int
    shared_reads: dict[str, tuple[int, float, object]]

    def now(self) -> datetime: ...
    def tone(self, name: str) -> str: ...
    def status_text(self) -> str: ...
    def status_content(self) -> Content: ...
    def cycle_phase(self) -> str: ...
    def show_events(self, calendar_id: int) -> None: ...
    def show_lineage(self, ident: str) -> None: ...
    def migration_task_finished(self, task: str, summary: str) -> None: ...
    def post_message(self, message: Message) -> bool: ...
    def notify(self, message: str, *args: Any, **kwargs: Any) -> None: ...


def fill(template: str, **values: object) -> Content:
    """Markup `template` with `$name` placeholders filled by `values` as plain text.

    Calendar names, titles, reasons, filters and errors come from Google or the person:
    they are never parsed as markup (`[/` in a filter once crashed the console).
    """
    return Content.from_markup(template, **{k: str(v) for k, v in values.items()})


def plain(text: object, style: str = "") -> Text:
    """A rich `Text` that shows `text` as is: for DataTable cells and Tree labels, which
    otherwise parse a `str` as rich markup."""
    return Text(str(text), style=style)


def same_content(a: object, b: object) -> bool:
    """Whether two things a Static shows draw the same (`Content ==` compares text only)."""
    if isinstance(a, Content) and isinstance(b, Content):
        return a.plain == b.plain and a.spans == b.spans
    if isinstance(a, Content) or isinstance(b, Content):
        return False
    return type(a) is type(b) and a == b


def set_content(widget: Static, content: VisualType, *, layout: bool = True) -> bool:
    """Show `content` in `widget` unless it shows that already (an update repaints the
    widget, and with `layout` lays the whole screen out again). `layout=False` for a
    widget whose size does not depend on its text (one fixed line). True if it changed."""
    if same_content(widget.content, content):
        return False
    widget.update(content, layout=layout)
    return True


FULL_COLLECTION_EVERY = 100  # young collections between full ones (Python's default: 10)


def keep_long_lived() -> None:
    """Once a screen is drawn: its objects and the startup's live as long as the console
    (one screen per mode), so they are frozen out of Python's full collections, which are
    also made rarer. Measured at the 10k demo under a cycle: full collections took ~300 ms
    of the UI thread every few seconds (14.6 s of 6 min), 5 s with the freeze alone.
    Frozen objects are still freed as soon as nothing uses them."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


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


class ViewLoaded(Message):
    """A screen's store reads finished in its worker (posted to the screen)."""

    def __init__(self, params: object, view: object, error: str | None, asked: float) -> None:
        super().__init__()
        self.params = params
        self.view = view
        self.error = error
        self.asked = asked  # time.monotonic() when the read was asked for


class ReadFailed(Message):
    """A read in a worker failed; the screen says so on the UI thread."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ConsoleScreen(Screen[None]):
    """A full screen of the console. Subclasses fill `body()`, and either `load_view` +
    `show_view` (reads in a worker) or `refresh_data()` (reads in place, small screens)."""

    TITLE_TEXT = ""
    # The same rows read again are not drawn again (False: the drawing depends on more
    # than the view, e.g. a task running in the screen).
    SKIP_EQUAL_VIEWS = True
    # Reads in a worker: one running, at most one more asked for (coalesced).
    _view_loading = False
    _view_stale = False
    views_shown = 0  # how many views were drawn (tests and the benchmark wait on it)
    view_asked_at = 0.0  # time.monotonic() when the drawn view's read was asked for
    _last_view: object = None  # the view drawn last (an equal one is not drawn again)
    _same_store = False  # refresh_data() not for a store change (shown again, a filter)
    _soon_timer: Timer | None = None  # a read asked for soon (request_view_soon)
    # What the styles depended on when the screen was hidden (`_keep_styles`).
    _hidden_with: tuple[object, ...] | None = None

    @property
    def capp(self) -> ConsoleHost:
        return cast(ConsoleHost, self.app)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield from self.body()
        yield Static("", id="status-line", classes="status-line")
        yield KeyBar()

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.sub_title = self.TITLE_TEXT
        self._coming_back(True)
        self.call_after_refresh(keep_long_lived)

    def on_screen_resume(self) -> None:
        self._coming_back(False)

    def _style_inputs(self) -> tuple[object, ...]:
        """What this screen's styles depend on besides its own classes and focus (which
        restyle the widgets they change at once, shown or not): the app's classes (the
        theme's) and whether the terminal has focus. A CSS or theme change while hidden
        is caught by Textual's own check on a switch (`App.switch_mode`)."""
        return (self.app.app_focus, frozenset(self.app.classes), self.app.theme)

    @on(events.ScreenSuspend)
    def _hidden(self) -> None:
        self._hidden_with = self._style_inputs()

    @on(events.ScreenResume)
    def _keep_styles(self, event: events.ScreenResume) -> None:
        """Runs before Textual's own resume handler: no restyle of the whole screen when
        nothing its styles depend on changed while it was hidden (the tables keep their
        rendered lines, the switch paints from them)."""
        if self._hidden_with is not None and self._hidden_with == self._style_inputs():
            event.refresh_styles = False

    def _coming_back(self, first: bool) -> None:
        """Shown (again): read, but a shared read of the last seconds may serve. A screen
        that reads in a worker is painted first (its last view) and reads after, so its
        read does not take the switch's time."""
        if self.reads_in_worker:
            self.update_status()
            self.request_view_soon()
            return
        self._same_store = True
        try:
            self.refresh_data()
        finally:
            self._same_store = False

    def now(self) -> datetime:
        return self.capp.now()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.capp.backend.session() as s:
            yield s

    def read(self, fn: Callable[[Session], T], default: T) -> T:
        """Run one read-model query; an unopened or broken store shows `default`.
        Safe in a worker thread (each call has its own session)."""
        if not self.capp.backend.is_open:
            return default
        try:
            with self.session() as s:
                return fn(s)
        except Exception as exc:  # a read must never take the console down
            text = f"could not read the store: {exc}"
            if threading.get_ident() == getattr(self.app, "_thread_id", None):
                self.capp.notify(text, severity="error")
            else:
                self.post_message(ReadFailed(text))
            return default

    # --- refresh ------------------------------------------------------------------------

    def read_shared(self, name: str, fn: Callable[[Session], T], default: T) -> T:
        """A read several screens make (the calendars, the migration view): one read
        serves them all for `SHARED_MAX_AGE_S` while the store is not known to have
        changed (`data_generation`, bumped by every refresh but a screen coming back)."""
        host = self.capp
        generation, now = host.data_generation, time.monotonic()
        hit = host.shared_reads.get(name)
        if hit is not None and hit[0] == generation and now - hit[1] <= SHARED_MAX_AGE_S:
            return cast(T, hit[2])
        value = self.read(fn, default)
        host.shared_reads[name] = (generation, now, value)
        return value

    def refresh_data(self) -> None:
        """Re-read the store and redraw; called on mount, resume and DataChanged."""
        if not self._same_store:
            self.capp.data_generation += 1  # the store changed: shared reads are old
        if self.reads_in_worker:
            self.request_view()
        self.update_status()

    def refresh_live(self) -> None:
        """A running cycle sent writes (at most once a second; `app.REREAD_EVENTS`): by
        default no read, the status line only (the screen re-reads when the cycle ends);
        a screen whose rows change with each write re-reads just those."""
        self.update_status()

    @property
    def reads_in_worker(self) -> bool:
        return type(self).load_view is not ConsoleScreen.load_view

    @property
    def view_pending(self) -> bool:
        """A read is running or asked for: what is drawn may be older than the store."""
        return self._view_loading or self._view_stale

    def view_params(self) -> object:
        """What the view depends on besides the store (calendar, filter); UI thread."""
        return None

    def same_view(self, loaded: object, current: object) -> bool:
        """Whether a view read for `loaded` params may be drawn now that they are `current`."""
        return loaded == current

    def load_view(self, params: object) -> object:
        """Every store read of one redraw; runs in a thread worker (no widget access)."""
        raise NotImplementedError

    def show_view(self, view: object) -> None:
        """Draw what `load_view` returned; UI thread."""

    def request_view(self) -> None:
        """Start the screen's read in its worker, or coalesce into the one running."""
        if self._view_loading:
            self._view_stale = True
            return
        self._view_loading, self._view_stale = True, False
        params, asked = self.view_params(), time.monotonic()
        self.run_worker(
            lambda: self._load(params, asked),
            name=f"view {type(self).__name__}",
            # One at a time by the coalescing above, not `exclusive=True`: that would mark
            # the read that just posted its view as cancelled while its thread returns.
            group=f"view-{type(self).__name__}",
            thread=True,
            exit_on_error=False,
        )

    def request_view_soon(self, delay: float | None = None) -> None:
        """Read after the next paint (`delay` None), or once `delay` seconds passed without
        another call (typing in a filter: one read when the person pauses, not one per
        key). The screen counts as pending meanwhile (`view_pending`)."""
        self._view_stale = True
        if self._soon_timer is not None:
            self._soon_timer.stop()
            self._soon_timer = None
        if delay is None:
            self.call_after_refresh(self._read_soon)
        else:
            self._soon_timer = self.set_timer(delay, self._read_soon)

    def _read_soon(self) -> None:
        self._soon_timer = None
        if self._view_stale and not self._view_loading:
            self.request_view()

    def _load(self, params: object, asked: float) -> None:
        try:
            view, error = self.load_view(params), None
        except Exception as exc:  # a read must never take the console down
            view, error = None, f"could not read the store: {exc}"
        self.post_message(ViewLoaded(params, view, error, asked))

    @on(ViewLoaded)
    def _view_loaded(self, msg: ViewLoaded) -> None:
        msg.stop()
        self._view_loading = False
        if msg.error is not None:
            self.capp.notify(msg.error, severity="error")
        elif self.same_view(msg.params, self.view_params()):
            drawn = (self.app.theme, msg.view)  # colours are picked per theme
            if drawn != self._last_view or not self.SKIP_EQUAL_VIEWS:
                self.show_view(msg.view)
                self._last_view = drawn
            self.views_shown += 1
            self.view_asked_at = msg.asked
        else:
            self._view_stale = True  # read for another calendar/filter: read again
        if self._view_stale and self._soon_timer is None:  # (a timer reads when it fires)
            self.request_view()
        self.update_status()

    @on(ReadFailed)
    def _read_failed(self, msg: ReadFailed) -> None:
        msg.stop()
        self.capp.notify(msg.text, severity="error")

    def update_status(self) -> None:
        try:
            line = self.query_one("#status-line", Static)
        except Exception:
            return
        set_content(line, self.capp.status_content(), layout=False)  # one line, always
