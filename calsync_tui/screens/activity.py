"""Activity: the mutation journal, newest first, filterable."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input

from calsync_tui.screens.base import ConsoleScreen, plain
from calsync_tui.service import readmodel as rm


class ActivityScreen(ConsoleScreen):
    TITLE_TEXT = "Journal"
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
        table: DataTable[str | Text] = DataTable(
            id="journal", cursor_type="row", zebra_stripes=True
        )
        table.border_title = "Journal: every Google write, newest first"
        yield table

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = False
        t: DataTable[str | Text] = self.query_one(DataTable)
        t.add_columns("#", "when", "origin", "op", "status", "calendar", "event", "reason")
        super().on_mount()
        t.focus()

    def refresh_data(self) -> None:
        text = self.filter_text
        rows: list[rm.JournalRow] = self.read(lambda s: rm.journal_page(s, text), [])
        t: DataTable[str | Text] = self.query_one(DataTable)
        with self.app.batch_update():
            t.clear()
            for r in rows:
                status = plain(r.status, self.capp.tone("red") if r.status == "failed" else "")
                t.add_row(
                    str(r.id),
                    r.created_at.strftime("%m-%d %H:%M:%S"),
                    plain(r.origin),
                    plain(r.op),
                    status,
                    plain(r.calendar[:20]),
                    plain(r.google_event_id[:26]),
                    plain((r.error or r.reason)[:40]),
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
