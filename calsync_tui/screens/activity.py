"""Activity: the mutation journal, newest first, filterable."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input

from calsync_tui.screens.base import ConsoleScreen
from calsync_tui.service import readmodel as rm


class ActivityScreen(ConsoleScreen):
    TITLE_TEXT = "Activity (journal)"
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", key_display="/", id="activity.filter"),
        Binding("escape", "leave_filter", "List", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""

    def body(self) -> ComposeResult:
        yield Input(placeholder="/ filter: op, status, origin, reason, id…", id="activity-filter")
        yield DataTable(id="journal", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = False
        t: DataTable[str] = self.query_one(DataTable)
        t.add_columns("#", "when", "origin", "op", "status", "calendar", "event", "reason")
        super().on_mount()
        t.focus()

    def refresh_data(self) -> None:
        text = self.filter_text
        rows: list[rm.JournalRow] = self.read(lambda s: rm.journal_page(s, text), [])
        t: DataTable[str] = self.query_one(DataTable)
        with self.app.batch_update():
            t.clear()
            for r in rows:
                status = f"[red]{r.status}[/]" if r.status == "failed" else r.status
                t.add_row(
                    str(r.id),
                    r.created_at.strftime("%m-%d %H:%M:%S"),
                    r.origin,
                    r.op,
                    status,
                    r.calendar[:20],
                    r.google_event_id[:26],
                    (r.error or r.reason)[:40],
                    key=str(r.id),
                )
        super().refresh_data()

    def action_focus_filter(self) -> None:
        self.query_one(Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one(DataTable).focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.refresh_data()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()
