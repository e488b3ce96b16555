"""Display rows over `local_store.queries`: one calendar's events shown in its own zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from calsync_tui.service import readmodel as rm
from local_store.db import open_store
from local_store.models import Account, Calendar, EventState


def test_events_of_one_calendar_read_in_its_zone_and_in_order(tmp_path: Path) -> None:
    store = open_store(tmp_path / "calsync.db", tmp_path / "backups")
    try:
        with store.session() as s:
            acc = Account(email="ana@example.com", auth_kind="static")
            s.add(acc)
            s.commit()
            cal = Calendar(
                account_id=acc.id or 0, google_id="ana@example.com", time_zone="Europe/Berlin"
            )
            s.add(cal)
            s.commit()
            starts = {  # made by people in three zones; UTC order is t, b, n
                "n": "2026-11-20T09:00:00-05:00",  # 14:00 UTC
                "t": "2026-11-20T11:45:00+09:00",  # 02:45 UTC
                "b": "2026-11-20T10:00:00+01:00",  # 09:00 UTC
            }
            for cid, start in starts.items():
                s.add(
                    EventState(
                        correlation_id=cid,
                        calendar_id=cal.id or 0,
                        google_event_id=f"g{cid}",
                        start=start,
                        end=start,
                        start_utc=datetime.fromisoformat(start).astimezone(UTC),
                    )
                )
            s.commit()
            rows = rm.calendar_rows(s)
            assert rows[0].time_zone == "Europe/Berlin"
            page = rm.events_page(s, cal.id or 0, "", 0, 10, rows[0].time_zone)
        assert [r.correlation_id for r in page] == ["t", "b", "n"]
        assert [r.start for r in page] == [
            "2026-11-20T03:45:00+01:00",
            "2026-11-20T10:00:00+01:00",
            "2026-11-20T15:00:00+01:00",
        ]
    finally:
        store.close()
    assert rm.in_zone("2026-11-20", "Europe/Berlin") == "2026-11-20"  # all-day stays a date
    assert rm.in_zone("not a time T", "Europe/Berlin") == "not a time T"
    assert rm.in_zone("2026-11-20T10:00:00+01:00", "Nowhere/Else") == "2026-11-20T10:00:00+01:00"


def test_both_faces_render_classes_and_phases_from_one_label_table() -> None:
    from calsync_tui.commands.migrate import COUNT_COLUMNS
    from calsync_tui.engine.model import EventClass
    from calsync_tui.migration.phases import Phase
    from calsync_tui.screens.dashboard import COLUMNS
    from calsync_tui.service.labels import CLASS_LABELS, FINDING_LABELS, PHASE_NAMES

    assert {item.key for item in CLASS_LABELS} == {c.value for c in EventClass}
    assert tuple(p.name.lower() for p in Phase) == PHASE_NAMES
    assert [item.short for item in CLASS_LABELS] == [
        c for c in COLUMNS if c in {i.short for i in CLASS_LABELS}
    ]
    shorts = {i.key: i.short for i in (*CLASS_LABELS, *FINDING_LABELS)}
    assert all(shorts[key] == label for key, label in COUNT_COLUMNS)


def test_lineage_nodes_and_event_list_rows_come_from_one_builder(tmp_path: Path) -> None:
    """An event reads the same in the events list and in its lineage (times as stored):
    both are built by `readmodel.event_row`, a lineage node is an EventRow with more."""
    from dataclasses import fields

    from calsync_tui.service.lineage import lineage
    from tests.tui.dataset import build_store

    home = build_store(tmp_path / "home")
    store = open_store(home.db_path, home.backups_dir)
    try:
        with store.session() as s:
            compared = 0
            for cal in rm.calendar_rows(s):
                for row in rm.events_page(s, cal.id, "", 0, 25, None):
                    node = lineage(s, row.correlation_id)
                    shown = [node.source, *node.blocks]
                    match = [n for n in shown if n and n.correlation_id == row.correlation_id]
                    assert len(match) == 1, row
                    assert isinstance(match[0], rm.EventRow)
                    as_row = {f.name: getattr(match[0], f.name) for f in fields(rm.EventRow)}
                    assert rm.EventRow(**as_row) == row
                    compared += 1
    finally:
        store.close()
    assert compared > 50


def test_coverage_counts_each_source_once_against_the_other_enabled_writable_calendars(
    tmp_path: Path,
) -> None:
    """The one coverage definition (one SQL aggregate), at its edges: a block counts on an
    enabled writable calendar other than the source's own, once Google confirmed it."""
    from local_store import queries

    store = open_store(tmp_path / "calsync.db", tmp_path / "backups")
    try:
        with store.session() as s:
            acc = Account(email="ana@example.com", auth_kind="static")
            s.add(acc)
            s.commit()
            cal: dict[str, int] = {}
            for name, role, enabled in (
                ("A", "owner", True),
                ("B", "writer", True),
                ("C", "reader", True),  # enabled but no blocks land there: not a target
                ("D", "owner", False),  # disabled: not a target
            ):
                c = Calendar(
                    account_id=acc.id or 0,
                    google_id=name,
                    summary=name,
                    access_role=role,
                    enabled=enabled,
                )
                s.add(c)
                s.commit()
                cal[name] = c.id or 0

            def source(cid: str, on: str, status: str = "synced") -> None:
                s.add(
                    EventState(
                        correlation_id=cid,
                        calendar_id=cal[on],
                        google_event_id=f"g-{cid}",
                        event_class="tracked_user_event",
                        status=status,
                    )
                )

            def block(cid: str, on: str, status: str = "synced", n: int = 0) -> None:
                s.add(
                    EventState(
                        correlation_id=f"b-{cid}-{on}-{n}",
                        calendar_id=cal[on],
                        google_event_id=f"gb-{cid}-{on}-{n}",
                        event_type="busy_block",
                        event_class="busy_block",
                        source_correlation_id=cid,
                        status=status,
                    )
                )

            source("a1", "A")  # block on B: covered
            block("a1", "B")
            source("a2", "A")  # its block still pending: not covered
            block("a2", "B", status="creating")
            source("a3", "A", status="deleted")  # gone: not a source
            block("a3", "B")
            source("a4", "A")  # block on B, and one on disabled D (ignored): covered
            block("a4", "B", status="created")
            block("a4", "D")
            source("a5", "A")  # a block on its own calendar does not cover it
            block("a5", "A")
            source("c1", "C")  # needs A and B: only A
            block("c1", "A")
            source("c2", "C")  # A and B (B twice): covered, counted once
            block("c2", "A")
            block("c2", "B")
            block("c2", "B", n=1)
            s.commit()
            by_cal = queries.coverage_by_calendar(s)
            overall = queries.overall_coverage(s)
            rows = {r.summary: r for r in rm.calendar_rows(s)}
    finally:
        store.close()
    assert by_cal == {cal["A"]: (4, 2), cal["C"]: (2, 1)}
    assert overall == (6, 3, 50.0)
    assert rows["A"].coverage == 0.5 and rows["C"].coverage == 0.5
    assert rows["B"].coverage is None  # no sources of its own
