"""The write list of a plan under review: one row per write, as a person reads it.

A `DataTable` (it renders only the rows on screen, so a plan of thousands of writes
scrolls as quickly as one of ten): when the event starts, its title in full, what the
write changes (before → after), the reason in full; the op and the event id are there
but last-but-one and last. Used by the plan review of the migration screen and by the
rollback confirmation. Every cell is a `Text`: titles, reasons and calendar names come
from Google and are shown as they are, never read as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from calsync_tui.service.plans import PlanLine

COLUMNS = ("#", "when", "title", "what changes", "why", "op", "event id")


class PlanTable(DataTable[Text]):
    """Rows of `PlanLine`s; `with_calendar` adds the calendar (a list over several)."""

    DEFAULT_CSS = """
    PlanTable {
        height: 1fr;
        min-height: 4;
    }
    """

    def __init__(self, *, with_calendar: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self.with_calendar = with_calendar
        self.lines: list[PlanLine] = []

    def on_mount(self) -> None:
        cols = list(COLUMNS)
        if self.with_calendar:
            cols.insert(1, "calendar")
        self.add_columns(*cols)
        if self.lines:
            self._fill()

    def show(self, lines: Sequence[PlanLine]) -> None:
        """Replace the rows with `lines` (in their order)."""
        self.lines = list(lines)
        if self.columns:
            self._fill()

    def _fill(self) -> None:
        self.clear()
        for ln in self.lines:
            when = ln.when + (" all day" if ln.all_day else "")
            cells = [
                Text(str(ln.seq) if ln.seq else "-"),
                Text(when or "-"),
                Text(ln.title or "(no title)"),
                Text(ln.change_text),
                Text(ln.reason, style="italic" if ln.conflict else ""),
                Text(ln.op),
                Text(ln.google_event_id, style="dim"),
            ]
            if self.with_calendar:
                cells.insert(1, Text(ln.calendar))
            self.add_row(*cells, key=f"{ln.calendar_id}\x1f{ln.google_event_id}\x1f{ln.seq}")

    def line_at_cursor(self) -> PlanLine | None:
        """The write under the cursor (None when the table is empty)."""
        if not self.lines or self.cursor_row >= len(self.lines):
            return None
        return self.lines[self.cursor_row]
