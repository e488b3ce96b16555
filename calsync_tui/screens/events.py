"""Events of one calendar: class and status of each, `/` filters, Enter shows lineage.

Rows come from the store a page at a time (`widgets.event_list.EventList`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from calsync_tui.screens.base import ConsoleScreen, fill, set_content
from calsync_tui.service import readmodel as rm
from calsync_tui.widgets.event_list import PAGE, EventList

CALENDAR_GROUP = Binding.Group("Calendar")
FILTER_PAUSE_S = 0.15  # typing in the filter: the list is read once typing pauses this long


@dataclass(frozen=True)
class EventsParams:
    """What the Events view depends on besides the store."""

    calendar_id: int | None
    text: str
    cursor: int
    live: bool  # the calendars as last read (filter, calendar switch, a cycle's writes)


@dataclass
class EventsView:
    """One read of the Events screen: the calendars, the counts, the first pages."""

    cals: list[rm.CalendarRow]
    calendar: rm.CalendarRow | None
    count: int
    every: int
    pages: dict[int, list[rm.EventRow]] = field(default_factory=dict)
    text: str = ""  # the filter it was read for (drawn in the title)


class EventsScreen(ConsoleScreen):
    TITLE_TEXT = "Events"
    AUTO_FOCUS = "EventList"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "focus_filter",
            "Filter",
            key_display="/",
            id="events.filter",
            tooltip="Filter by title, class, status or id",
        ),
        Binding(
            "left_square_bracket",
            "calendar(-1)",
            "Previous calendar",
            key_display="[",
            id="events.prev",
            group=CALENDAR_GROUP,
        ),
        Binding(
            "right_square_bracket",
            "calendar(1)",
            "Next calendar",
            key_display="]",
            id="events.next",
            group=CALENDAR_GROUP,
        ),
        Binding("escape", "leave_filter", "List", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.calendar_id: int | None = None
        self.filter_text = ""
        self._cals: list[rm.CalendarRow] = []  # as of the last full read
        self._live = False

    def body(self) -> ComposeResult:
        yield Static("", id="events-title")
        yield Input(placeholder="/ filter: title, class, status, id…", id="events-filter")
        with Vertical(id="events-panel") as panel:
            panel.border_title = "Events"
            yield Static(EventList.header_text(), id="events-header", markup=False)
            yield EventList(id="events-list")

    def on_mount(self) -> None:
        self.query_one("#events-filter", Input).cursor_blink = False
        super().on_mount()
        self.query_one(EventList).focus()

    def show_calendar(self, calendar_id: int) -> None:
        self.calendar_id = calendar_id
        if self.is_mounted:
            self.refresh_data()

    def view_params(self) -> EventsParams:
        lst = self.query_one(EventList)
        return EventsParams(self.calendar_id, self.filter_text, lst.cursor, self._live)

    def same_view(self, loaded: object, current: object) -> bool:
        assert isinstance(loaded, EventsParams) and isinstance(current, EventsParams)
        return (loaded.calendar_id, loaded.text) == (current.calendar_id, current.text)

    def refresh_live(self) -> None:
        """During a cycle: the list and its counts again, the calendars as last read."""
        self._reread_rows()

    def _reread_rows(self) -> None:
        """The list and its counts again, the calendars as last read (a filter keystroke,
        another calendar, a cycle's writes): the calendars' own read is the costly one."""
        self._live, self._same_store = bool(self._cals), True
        try:
            self.refresh_data()
        finally:
            self._same_store = False

    def refresh_data(self) -> None:
        super().refresh_data()
        self._live = False

    def load_view(self, params: object) -> EventsView:
        """The calendars, the counts and the page under the cursor (in a worker)."""
        assert isinstance(params, EventsParams)
        cals: list[rm.CalendarRow] = (
            self._cals
            if params.live and self._cals
            else self.read_shared("calendar_rows", rm.calendar_rows, [])
        )
        cal_id = params.calendar_id
        if cal_id is None or cal_id not in {c.id for c in cals}:
            # Start on a calendar the user writes to (where blocks land), then any enabled one.
            ranked = sorted(
                cals, key=lambda c: (not c.enabled, c.access_role not in ("owner", "writer"))
            )
            cal_id = ranked[0].id if ranked else None
        cal = next((c for c in cals if c.id == cal_id), None)
        if cal is None:
            return EventsView(cals, None, 0, 0, {}, params.text)
        text = params.text
        count = self.read(lambda s: rm.count_events(s, cal.id, text), 0)
        # "N of M": both from the list's own count, so the two always agree.
        every = self.read(lambda s: rm.count_events(s, cal.id, ""), 0) if text else count
        loader = self._loader(cal, text)
        keep = params.cursor if cal.id == params.calendar_id and params.cursor < count else 0
        pages = {p: loader(p * PAGE, PAGE) for p in {0, keep // PAGE} if p * PAGE < count}
        return EventsView(cals, cal, count, every, pages, text)

    def _loader(self, cal: rm.CalendarRow, text: str) -> Callable[[int, int], list[rm.EventRow]]:
        def loader(offset: int, limit: int) -> list[rm.EventRow]:
            return self.read(
                lambda s: rm.events_page(s, cal.id, text, offset, limit, cal.time_zone), []
            )

        return loader

    def show_view(self, view: object) -> None:
        assert isinstance(view, EventsView)
        self._cals = view.cals
        lst = self.query_one(EventList)
        title = self.query_one("#events-title", Static)
        cal = view.calendar
        if cal is None:
            self.calendar_id = None
            set_content(title, "No calendars yet — sign in (u) and run a sync (s).")
            lst.load(0, lambda o, n: [])
            return
        # The cursor stays where the person has it (it may have moved during the read).
        cursor = lst.cursor if lst.row_count and cal.id == self.calendar_id else 0
        self.calendar_id = cal.id
        text = view.text
        lst.load(view.count, self._loader(cal, text), pages=view.pages, cursor=cursor)
        where = (
            cal.account if cal.google_id == cal.account else f"{cal.google_id} via {cal.account}"
        )
        shown = f"{view.count:,} of {view.every:,}" if text else f"{view.count:,}"
        set_content(
            title,
            fill(
                "[b]$name[/b] [dim]$where · $mode mode[/]  $shown events"
                + ("  filter: [b]$text[/b]" if text else "")
                + "  [dim]$zone · \\[ ] other calendars[/]",
                name=cal.summary,
                where=where,
                mode=cal.engine_mode,
                shown=shown,
                text=text,
                zone=cal.time_zone or "UTC",
            ),
        )

    def on_resize(self) -> None:
        lst = self.query_one(EventList)
        width = lst.scrollable_content_region.width or self.size.width
        set_content(self.query_one("#events-header", Static), EventList.header_text(width))

    def action_focus_filter(self) -> None:
        self.query_one("#events-filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one(EventList).focus()

    @on(Input.Submitted, "#events-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value
        self._reread_rows()
        self.query_one(EventList).focus()

    @on(Input.Changed, "#events-filter")
    def _changed(self, event: Input.Changed) -> None:
        """Each key shows in the filter at once; the list is read when typing pauses."""
        self.filter_text = event.value
        self._live = bool(self._cals)
        self.request_view_soon(FILTER_PAUSE_S)

    def action_calendar(self, step: int) -> None:
        cals = self._cals
        if not cals:
            return
        ids = [c.id for c in cals]
        i = ids.index(self.calendar_id) if self.calendar_id in ids else 0
        self.calendar_id = ids[(i + step) % len(ids)]
        self._reread_rows()

    @on(EventList.Selected)
    def _selected(self, event: EventList.Selected) -> None:
        self.capp.show_lineage(event.row.correlation_id)
