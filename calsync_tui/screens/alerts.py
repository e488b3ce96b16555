"""Alerts: cascades, auto-rollbacks, sign-in needed; Enter acknowledges."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from calsync_tui.screens.base import ConsoleScreen
from calsync_tui.service import readmodel as rm
from local_store import queries

LEVEL_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


class AlertsScreen(ConsoleScreen):
    TITLE_TEXT = "Alerts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "ack", "Acknowledge", id="alerts.ack", tooltip="Mark the alert as seen"),
    ]

    def body(self) -> ComposeResult:
        yield DataTable(id="alerts", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        t: DataTable[str] = self.query_one(DataTable)
        t.add_columns("when", "level", "kind", "calendar", "message", "seen")
        super().on_mount()
        t.focus()

    def refresh_data(self) -> None:
        rows: list[rm.AlertRow] = self.read(lambda s: rm.alerts(s), [])
        t: DataTable[str] = self.query_one(DataTable)
        with self.app.batch_update():
            t.clear()
            for a in rows:
                style = (
                    "dim" if a.acknowledged else self.capp.tone(LEVEL_STYLE.get(a.level, "default"))
                )
                t.add_row(
                    a.created_at.strftime("%m-%d %H:%M"),
                    f"[{style}]{a.level}[/]",
                    a.kind,
                    a.calendar or "-",
                    a.message[:70],
                    "✔" if a.acknowledged else "",
                    key=str(a.id),
                )
        super().refresh_data()

    def action_ack(self) -> None:
        t: DataTable[str] = self.query_one(DataTable)
        if t.row_count == 0:
            return
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        if key is not None and self.read(lambda s: queries.acknowledge_alert(s, int(key)), False):
            self.notify("alert acknowledged")
            self.refresh_data()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_ack()
