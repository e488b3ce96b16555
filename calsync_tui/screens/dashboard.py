"""Dashboard: per-calendar classification, coverage, mode and health; headline metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Label, ProgressBar, Static

from calsync_tui.screens.base import ConsoleScreen, ago, fill, plain, set_content
from calsync_tui.screens.migration import read_migration_view
from calsync_tui.service import readmodel as rm
from calsync_tui.service.labels import CLASS_LABELS
from calsync_tui.widgets.phase_stepper import PhaseStepper
from calsync_tui.writes.refusals import Refusal
from local_store import queries
from local_store.models import SyncRun

# Short headers and cells so all 15 columns fit 120 columns (the whole table, no scrolling).
ROLE_SHORT = {"freeBusyReader": "f/busy"}
COLUMNS = (
    "calendar",
    "account",
    "role",
    *(item.short for item in CLASS_LABELS),
    "cover",
    "mode",
    "synced",
    "health",
)


def _metric(label: str, value: str, cls: str = "") -> str:
    return (
        f"[b]{value}[/b]\n[dim]{label}[/dim]"
        if not cls
        else f"[{cls}][b]{value}[/b][/]\n[dim]{label}[/dim]"
    )


def _json_total(raw: str | None) -> int:
    """The sum of a run's per-op write counts (`mutations_json`)."""
    import json

    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return 0
    return sum(int(v) for v in data.values() if isinstance(v, int)) if isinstance(data, dict) else 0


def _fit(text: str, width: int) -> str:
    """Cut to `width` with an ellipsis, so a cut is visible as one."""
    return text if len(text) <= width else text[: width - 1] + "…"


def attention_text(paused: list[rm.PausedAccount], refused: list[Refusal], warn: str) -> Content:
    """One line per paused account, then the refusals in one line: Google's reason, the
    first event, and where the full list with what to do is (account names, titles and
    reasons are Google's text: never markup)."""
    lines = [fill("[b $c]⏸[/] $line", c=warn, line=p.line()) for p in paused]
    if refused:
        first = refused[0]
        reasons = sorted({r.reason for r in refused})
        more = f" and {len(refused) - 1:,} more" if len(refused) > 1 else ""
        lines.append(
            fill(
                "[b $c]✋[/] $n write(s) Google refused for good ($why), remembered and not "
                "sent again until the event changes: “$title” on $cal$more. They are still "
                "mirrored. [b]a[/b] lists them with what you can do.",
                c=warn,
                n=f"{len(refused):,}",
                why=", ".join(reasons),
                title=first.event_title,
                cal=first.calendar,
                more=more,
            )
        )
    return Content("\n").join(lines)


@dataclass
class DashView:
    """One read of the dashboard."""

    now: datetime
    rows: list[rm.CalendarRow]
    accounts: list[queries.AccountSummary]
    head: rm.Headline | None
    mig: rm.MigrationView | None
    runs: list[SyncRun]
    writes: list[rm.JournalRow]
    foreign: list[Any] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    paused: list[rm.PausedAccount] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def _cell_key(value: object) -> object:
    """What a table cell draws, to compare (rich `Text ==` ignores the base style)."""
    if isinstance(value, Text):
        return (value.plain, str(value.style), tuple(value.spans))
    return value


class DashboardScreen(ConsoleScreen):
    TITLE_TEXT = "Dashboard"
    paused_accounts: frozenset[str] | set[str] = frozenset()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "open_calendar",
            "Events",
            id="dashboard.open",
            tooltip="Show the events of the selected calendar",
        ),
    ]

    def body(self) -> ComposeResult:
        # One scrolling body: on a short terminal the status line and the key bar stay
        # in view and the panels scroll under them.
        with VerticalScroll(id="dash-body", can_focus=False):
            with Horizontal(id="metrics"):
                for key in ("cascades", "success", "latency", "stuck", "api", "alerts"):
                    yield Static("", id=f"metric-{key}", classes="metric")
            stepper = PhaseStepper(id="dash-phase")
            stepper.border_title = "Migration (m)"
            yield stepper
            with Horizontal(id="cycle-progress"):
                yield Label("", id="cycle-label")
                yield ProgressBar(total=1, show_eta=False, id="cycle-bar")
            table: DataTable[str | Text] = DataTable(
                id="calendars", cursor_type="row", zebra_stripes=True
            )
            table.border_title = "Calendars"
            yield table
            foreign = Static("", id="dash-foreign", markup=False)  # adoption (screens/adopt.py)
            foreign.border_title = "Another installation's blocks"
            yield foreign
            attention = Static("", id="dash-attention")
            attention.border_title = "Needs your attention"
            yield attention
            with Horizontal(id="dash-lower"):
                runs: DataTable[str | Text] = DataTable(id="dash-runs", cursor_type="none")
                runs.border_title = "Latest cycles"
                yield runs
                writes: DataTable[str | Text] = DataTable(id="dash-writes", cursor_type="none")
                writes.border_title = "Latest writes (j: journal)"
                yield writes
            yield Static(
                "No calendars yet. Sign in on the Accounts screen (u), enable calendars with "
                "`calsync-tui calendars enable`, or try `calsync-tui demo`.",
                id="dash-empty",
            )

    def __init__(self) -> None:
        super().__init__()
        self._shown_cells: dict[str, list[object]] = {}  # calendar row key -> cells drawn
        self._shown_lower: tuple[object, ...] | None = None  # the lower tables as drawn

    def on_mount(self) -> None:
        table = self.query_one("#calendars", DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        runs: DataTable[str | Text] = self.query_one("#dash-runs", DataTable)
        runs.add_columns("time", "kind", "writes", "failed", "took")
        writes: DataTable[str | Text] = self.query_one("#dash-writes", DataTable)
        writes.add_columns("time", "op", "calendar", "why")
        super().on_mount()
        # focusing the calendars scrolls them into view: open at the top (the metrics)
        body = self.query_one("#dash-body", VerticalScroll)
        self.call_after_refresh(body.scroll_home, animate=False)

    def load_view(self, params: object) -> DashView:
        """Every read of the dashboard (in the screen's worker, `screens.base`)."""
        from calsync_tui.screens.adopt import foreign_of

        now = self.now()
        interval = self.capp.backend.context().settings.sync_interval_seconds
        return DashView(
            now=now,
            rows=self.read_shared("calendar_rows", rm.calendar_rows, []),
            accounts=self.read(queries.account_summaries, []),
            head=self.read(lambda s: rm.headline(s, now), None),
            mig=read_migration_view(self),
            runs=self.read(lambda s: queries.latest_runs(s, 12), []),
            writes=self.read(lambda s: rm.journal_page(s, "", 12), []),
            foreign=self.read(lambda s: foreign_of(s, interval), []),
            names=self.read(queries.summaries_by_google_id, {}),
            paused=self.read(lambda s: rm.paused_accounts(s, now), []),
            refused=self.read(rm.refusals, []),
        )

    def show_view(self, view: object) -> None:
        assert isinstance(view, DashView)
        now, rows, accounts = view.now, view.rows, view.accounts
        # A signed-out account's calendars are neither read nor written: paused.
        self.paused_accounts = {a.email for a in accounts if a.needs_signin}
        self._fill_metrics(view.head)
        self.query_one(PhaseStepper).show(view.mig)
        table: DataTable[str | Text] = self.query_one("#calendars", DataTable)
        keep = table.cursor_row
        with self.app.batch_update():
            wanted = {str(r.id) for r in rows}
            for gone in [k for k in table.rows if k.value not in wanted]:
                table.remove_row(gone)
                self._shown_cells.pop(str(gone.value), None)
            present = {k.value for k in table.rows}
            for r in rows:
                cells = self._cells(r, now)
                key, drawn = str(r.id), [_cell_key(c) for c in cells]
                if key in present:
                    # Only the cells that changed: any update re-renders the whole table.
                    before = self._shown_cells.get(key, [])
                    for i, (name, value) in enumerate(zip(COLUMNS, cells, strict=True)):
                        if i >= len(before) or before[i] != drawn[i]:
                            table.update_cell(key, name, value, update_width=True)
                else:
                    table.add_row(*cells, key=key)
                self._shown_cells[key] = drawn
        self._fill_lower(view.runs, view.writes)
        self.query_one("#dash-empty", Static).display = not rows
        self._show_foreign(view.foreign, view.names)
        self._show_attention(view.paused, view.refused)
        if rows and keep < len(rows):
            table.move_cursor(row=keep)

    def _show_foreign(self, foreign: list[Any], names: dict[str, str]) -> None:
        """Adoption notice: other installations' blocks on the enabled calendars."""
        from calsync_tui.screens.adopt import notice_text

        text = notice_text(foreign, names)
        notice = self.query_one("#dash-foreign", Static)
        set_content(notice, text)
        notice.display = bool(text)

    def _show_attention(self, paused: list[rm.PausedAccount], refused: list[Refusal]) -> None:
        """Accounts paused by Google's usage limit and writes Google refused for good."""
        panel = self.query_one("#dash-attention", Static)
        panel.display = bool(paused or refused)
        if panel.display:
            set_content(panel, attention_text(paused, refused, self.capp.tone("yellow")))

    def _fill_lower(self, runs_rows: list[SyncRun], writes_rows: list[rm.JournalRow]) -> None:
        """The latest cycles and writes under the calendars, so the screen is used."""
        runs: DataTable[str | Text] = self.query_one("#dash-runs", DataTable)
        writes: DataTable[str | Text] = self.query_one("#dash-writes", DataTable)
        red = self.capp.tone("red")
        run_cells = [
            (
                r.started_at.strftime("%H:%M:%S"),
                r.kind.replace("_", "-"),
                f"{_json_total(r.mutations_json):,}",
                plain(str(r.failed), red if r.failed else ""),
                f"{r.duration_ms / 1000:.1f}s",
            )
            for r in runs_rows
        ]
        write_cells = [
            (
                w.created_at.strftime("%H:%M:%S"),
                plain(
                    w.op + (" failed" if w.status == "failed" else ""),
                    red if w.status == "failed" else "",
                ),
                plain(_fit(w.calendar, 14)),
                plain(w.error or w.reason),
            )
            for w in writes_rows
        ]
        drawn = tuple(
            tuple(tuple(_cell_key(c) for c in row) for row in rows)
            for rows in (run_cells, write_cells)
        )
        if drawn == self._shown_lower:
            return  # the same rows: no redraw (a redraw renders every cell again)
        self._shown_lower = drawn
        with self.app.batch_update():
            for table, rows in ((runs, run_cells), (writes, write_cells)):
                table.clear()
                for cells in rows:
                    table.add_row(*cells)

    def update_status(self) -> None:
        """The status line, plus the running cycle's writes as a bar (done/total)."""
        super().update_status()
        try:
            box = self.query_one("#cycle-progress", Horizontal)
        except Exception:
            return
        running = self.capp.engine_state in ("running", "previewing")
        box.display = running
        if not running:
            return
        label = self.query_one("#cycle-label", Label)
        set_content(label, f"sync cycle: {self.capp.cycle_phase()}", layout=False)  # fixed width
        bar = self.query_one("#cycle-bar", ProgressBar)
        done, total = self.capp.cycle_progress or (0, 0)
        if total:
            bar.update(total=total, progress=done)
        else:
            bar.update(total=None)

    def _cells(self, r: rm.CalendarRow, now: object) -> list[str | Text]:
        from datetime import datetime

        assert isinstance(now, datetime)
        cov = "-" if r.coverage is None else f"{r.coverage * 100:.0f}%"
        t = self.capp.tone
        health = {
            "ok": plain("ok", t("green")),
            "attention": plain("check", t("yellow")),
            "error": plain("error", t("red")),
            "off": plain("off", "dim"),
        }[r.health]
        if r.enabled and r.account in self.paused_accounts:
            health = plain("paused", t("yellow"))
        return [
            plain(_fit(r.summary, 16)),
            plain(_fit(r.account.rsplit(".", 1)[0] if "@" in r.account else r.account, 14)),
            ROLE_SHORT.get(r.access_role, r.access_role),
            *(str(r.counts[item.key]) for item in CLASS_LABELS),
            cov,
            r.engine_mode,
            ago(r.last_synced_at, now),
            health,
        ]

    def _fill_metrics(self, h: rm.Headline | None) -> None:
        t = self.capp.tone

        def put(key: str, text: str) -> None:  # tiles of a fixed size: no layout pass
            set_content(self.query_one(f"#metric-{key}", Static), text, layout=False)

        if h is None or h.cycles == 0:
            put("cascades", _metric("cascades", "0"))
            put("success", _metric("success rate", "-"))
            put("latency", _metric("change → block", "-"))
            put("stuck", _metric("stuck", "0"))
            put("api", _metric("API calls/hour", "0"))
            put("alerts", _metric("open alerts", str(h.open_alerts if h else 0)))
            return
        put(
            "cascades", _metric("cascades", str(h.cascades), t("red") if h.cascades else t("green"))
        )
        rate = "-" if h.success_rate is None else f"{h.success_rate * 100:.2f}%"
        put(
            "success",
            _metric(
                "success rate", rate, t("green") if (h.success_rate or 0) >= 0.995 else t("yellow")
            ),
        )
        lat = "-" if h.latency_ms is None else f"{h.latency_ms:.0f} ms"
        put("latency", _metric("change → block", lat))
        put("stuck", _metric("stuck", str(h.stuck), t("red") if h.stuck else t("green")))
        put("api", _metric("API calls/hour", str(h.api_calls_last_hour)))
        put(
            "alerts",
            _metric("open alerts", str(h.open_alerts), t("red") if h.open_alerts else t("green")),
        )

    def action_open_calendar(self) -> None:
        table: DataTable[str | Text] = self.query_one("#calendars", DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key is not None:
            self.capp.show_events(int(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.capp.show_events(int(event.row_key.value))
