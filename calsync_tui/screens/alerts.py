"""Alerts: cascades, auto-rollbacks, sign-in needed (Enter acknowledges); accounts whose
writes Google's usage limit paused; writes Google refused for good, with Google's reason
and what the user can do."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

from calsync_tui.screens.base import ConsoleScreen, fill, plain
from calsync_tui.service import readmodel as rm
from calsync_tui.writes.refusals import Refusal
from local_store import queries

LEVEL_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


class AlertsScreen(ConsoleScreen):
    TITLE_TEXT = "Alerts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "ack", "Acknowledge", id="alerts.ack", tooltip="Mark the alert as seen"),
    ]

    def body(self) -> ComposeResult:
        paused = Static("", id="alerts-paused")
        paused.border_title = "Writes paused by Google's usage limit"
        yield paused
        table: DataTable[str | Text] = DataTable(id="alerts", cursor_type="row", zebra_stripes=True)
        table.border_title = "Alerts"
        yield table
        with Vertical(id="refusals-box"):
            refused: DataTable[str | Text] = DataTable(
                id="refusals", cursor_type="row", zebra_stripes=True
            )
            refused.border_title = "Refused by Google for good (remembered; not sent again)"
            yield refused
            advice = Static("", id="refusal-advice")
            advice.border_title = "What you can do"
            yield advice

    def on_mount(self) -> None:
        t: DataTable[str | Text] = self.query_one("#alerts", DataTable)
        t.add_columns("when", "level", "kind", "calendar", "message", "seen")
        r: DataTable[str | Text] = self.query_one("#refusals", DataTable)
        r.add_columns("calendar", "event", "Google's reason", "refused")
        super().on_mount()
        t.focus()

    def refresh_data(self) -> None:
        self._fill_paused()
        self._fill_refusals()
        rows: list[rm.AlertRow] = self.read(lambda s: rm.alerts(s), [])
        t: DataTable[str | Text] = self.query_one("#alerts", DataTable)
        with self.app.batch_update():
            t.clear()
            for a in rows:
                style = (
                    "dim" if a.acknowledged else self.capp.tone(LEVEL_STYLE.get(a.level, "default"))
                )
                t.add_row(
                    a.created_at.strftime("%m-%d %H:%M"),
                    plain(a.level, style),
                    plain(a.kind),
                    plain(a.calendar or "-"),
                    plain(a.message),
                    "✔" if a.acknowledged else "",
                    key=str(a.id),
                )
        super().refresh_data()

    def _fill_paused(self) -> None:
        now = self.now()
        paused: list[rm.PausedAccount] = self.read(lambda s: rm.paused_accounts(s, now), [])
        box = self.query_one("#alerts-paused", Static)
        box.display = bool(paused)
        box.update(Content("\n").join(fill("⏸ $line", line=p.line()) for p in paused))

    def _fill_refusals(self) -> None:
        """One row per refused event; below, Google's reasons with what the user can do
        (wrapped, never cut)."""
        refused: list[Refusal] = self.read(rm.refusals, [])
        self.query_one("#refusals-box").display = bool(refused)
        table: DataTable[str | Text] = self.query_one("#refusals", DataTable)
        with self.app.batch_update():
            table.clear()
            for i, r in enumerate(refused):
                table.add_row(
                    plain(r.calendar),
                    plain(r.event_title),
                    plain(r.reason, self.capp.tone("yellow")),
                    r.refused_at.strftime("%m-%d %H:%M") if r.refused_at else "-",
                    key=str(i),
                )
        advice: dict[str, str] = {}
        for r in refused:
            advice.setdefault(r.reason, r.advice)
        self.query_one("#refusal-advice", Static).update(
            Content("\n").join(
                fill("[b]$reason[/b]: $advice", reason=reason, advice=text)
                for reason, text in sorted(advice.items())
            )
        )

    def action_ack(self) -> None:
        t: DataTable[str | Text] = self.query_one("#alerts", DataTable)
        if t.row_count == 0:
            return
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        if key is not None and self.read(lambda s: queries.acknowledge_alert(s, int(key)), False):
            self.notify("alert acknowledged")
            self.refresh_data()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "alerts":
            self.action_ack()
