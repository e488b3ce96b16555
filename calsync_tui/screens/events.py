"""Events of one calendar: class and status of each, `/` filters, Enter shows lineage.

Rows come from the store a page at a time (`widgets.event_list.EventList`).
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from calsync_tui.screens.base import ConsoleScreen
from calsync_tui.service import readmodel as rm
from calsync_tui.widgets.event_list import EventList


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
            "left_square_bracket", "calendar(-1)", "Prev cal", key_display="[", id="events.prev"
        ),
        Binding(
            "right_square_bracket", "calendar(1)", "Next cal", key_display="]", id="events.next"
        ),
        Binding("escape", "leave_filter", "List", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.calendar_id: int | None = None
        self.filter_text = ""

    def body(self) -> ComposeResult:
        yield Static("", id="events-title")
        yield Input(placeholder="/ filter: title, class, status, id…", id="events-filter")
        yield Static(EventList.header_text(), id="events-header")
        yield EventList(id="events-list")

    def on_mount(self) -> None:
        self.query_one("#events-filter", Input).cursor_blink = False
        super().on_mount()
        self.query_one(EventList).focus()

    def _calendars(self) -> list[rm.CalendarRow]:
        rows: list[rm.CalendarRow] = self.read(rm.calendar_rows, [])
        return rows

    def show_calendar(self, calendar_id: int) -> None:
        self.calendar_id = calendar_id
        if self.is_mounted:
            self.refresh_data()

    def refresh_data(self) -> None:
        cals = self._calendars()
        if self.calendar_id is None or self.calendar_id not in {c.id for c in cals}:
            # Start on a calendar the user writes to (where blocks land), then any enabled one.
            ranked = sorted(
                cals, key=lambda c: (not c.enabled, c.access_role not in ("owner", "writer"))
            )
            self.calendar_id = ranked[0].id if ranked else None
        lst = self.query_one(EventList)
        title = self.query_one("#events-title", Static)
        if self.calendar_id is None:
            title.update("No calendars yet — sign in (u) and run a sync (s).")
            lst.load(0, lambda o, n: [])
            super().refresh_data()
            return
        cal_id = self.calendar_id
        cal = next(c for c in cals if c.id == cal_id)
        text = self.filter_text
        count = self.read(lambda s: rm.count_events(s, cal_id, text), 0)

        def loader(offset: int, limit: int) -> list[rm.EventRow]:
            return self.read(
                lambda s: rm.events_page(s, cal_id, text, offset, limit, cal.time_zone), []
            )

        keep = lst.cursor if lst.row_count else 0
        lst.load(count, loader)
        if keep and keep < count:
            lst.cursor = keep
        where = (
            cal.account if cal.google_id == cal.account else f"{cal.google_id} via {cal.account}"
        )
        shown = f"{count:,} of {cal.total:,}" if text else f"{count:,}"
        filt = f"  filter: [b]{text}[/b]" if text else ""
        title.update(
            f"[b]{cal.summary}[/b] [dim]{where} · {cal.engine_mode} mode[/]"
            f"  {shown} events{filt}  [dim]{cal.time_zone} · \\[ ] other calendars[/]"
        )
        super().refresh_data()

    def action_focus_filter(self) -> None:
        self.query_one("#events-filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one(EventList).focus()

    @on(Input.Submitted, "#events-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value
        self.refresh_data()
        self.query_one(EventList).focus()

    @on(Input.Changed, "#events-filter")
    def _changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.refresh_data()

    def action_calendar(self, step: int) -> None:
        cals = self._calendars()
        if not cals:
            return
        ids = [c.id for c in cals]
        i = ids.index(self.calendar_id) if self.calendar_id in ids else 0
        self.calendar_id = ids[(i + step) % len(ids)]
        self.refresh_data()

    @on(EventList.Selected)
    def _selected(self, event: EventList.Selected) -> None:
        self.capp.show_lineage(event.row.correlation_id)
