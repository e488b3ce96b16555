"""Issue 16, "let a person review what will be written": every dry run shows each write
as a person reads it (calendar, when, the title in full, what changes before → after,
the reason in full; ids last), from one shape (`service.plans.PlanLine`) that the
console's plan review uses too. Real CLI, real sandbox over HTTP, real SQLite."""

from __future__ import annotations

from pathlib import Path

from calsync_tui.migration.plan_file import read_plan
from calsync_tui.service.plans import plan_view, short_id, when_text
from tests.migration.conftest import Mess


def _prepared(m: Mess) -> None:
    m.cli_json("migrate", "discover")
    assert m.cli_json("migrate", "prepare")["gate"]["passed"]


def test_backfill_dry_run_shows_each_write_as_a_person_reads_it(mess: Mess) -> None:
    m = mess
    _prepared(m)
    dry = m.cli_json("migrate", "backfill", "--dry-run")
    code, out, err = m.cli("migrate", "backfill", "--dry-run")
    assert code == 0, err
    writes = dry["writes"]
    assert len(writes) == dry["write_count"] > 0
    for w in writes:
        event = w["before"] or w["body"]
        title = str(event.get("summary") or "")
        when, _, _ = when_text((w["body"] or {}).get("start") or event.get("start"))
        # the event first (title quoted in full, its start), then what changes, then why
        head, changes, why = out.split(f"\n  {w['seq']:>5} ", 1)[1].splitlines()[:3]
        block = "\n".join((head, changes, why))
        assert title and f'"{title}"' in head and when in head, block
        assert why.strip().startswith(f"why: {w['reason']}") and w["event_id"] in why
        if w["op"] == "delete":
            assert changes.strip() == "status: confirmed → deleted", block
        elif w["op"] == "stamp":
            cid = w["correlation_id"]
            assert f"private.calsync_id: — → {short_id(cid)}" in changes, block
        elif w["op"] == "insert":
            assert f'title: — → "{w["body"]["summary"]}"' in changes, block
    # calendars by the names people know them by (ids come last)
    assert "Bob · " in out and "Side · " in out and "\nSide " in out
    assert "dry run: nothing was written" in out
    # the cascade's title in full, not cut
    assert '"🔒 Busy - 🔒 Busy - Dentist"' in out


def test_plan_lines_are_the_console_shape_of_the_same_plan(mess: Mess, tmp_path: Path) -> None:
    """The console's plan review reads the same `PlanLine`s (when, title, changes)."""
    m = mess
    _prepared(m)
    path = tmp_path / "plan.json"
    m.cli_json("migrate", "plan", "--out", str(path))
    plan = read_plan(path)
    view = plan_view(plan)
    assert [ln.seq for ln in view.lines] == [w.seq for w in plan.writes]
    for ln, w in zip(view.lines, plan.writes, strict=True):
        assert ln.title == w.title and ln.reason == w.reason and ln.when
        assert ln.changes, ln
        if w.op == "stamp" and "legacy" not in w.reason:
            assert ln.changes[0].field == "private.calsync_id"
            assert ln.changes[0].before == "—"
    moved = [ln for ln in view.lines if "refresh" in ln.reason]
    for ln in moved:  # a block whose source moved: its start before → after
        assert any(c.field == "start" and c.before != c.after for c in ln.changes), ln


def test_rollback_dry_run_says_which_events_come_back_under_a_new_id(
    mess: Mess, tmp_path: Path
) -> None:
    m = mess
    _prepared(m)
    plan = tmp_path / "plan.json"
    m.cli_json("migrate", "plan", "--out", str(plan))
    assert m.cli_json("migrate", "backfill", "--plan", str(plan), "--yes")["gate"]["passed"]
    purged = set(m.sandbox.purge_trash(m.b))
    assert purged
    code, out, err = m.cli("migrate", "rollback", "--level", "2", "--dry-run")
    assert code == 0, err
    assert f"{len(purged)} event(s) come back under a new id" in out
    assert '"🔒 Busy - 🔒 Busy - Dentist": new id ' in out
    # each stamped event shows its properties going away, before → after
    assert "private.calsync_id: " in out and "→ —" in out
    assert "re-create" in out and "status: deleted → confirmed" in out
    for old in (m.ids["b_cascade"], m.ids["b_orphan"]):
        assert f"id: {old} → {old}g1" in out
