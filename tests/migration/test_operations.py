"""Crash and resume, pause/resume, rollback levels 1-3, conflicts, auto-rollback."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

from sqlmodel import select

from calsync_tui.engine.model import EngineMode
from calsync_tui.migration import service
from calsync_tui.migration.events import private_props
from calsync_tui.migration.journal import Progress
from calsync_tui.migration.rollback import check_auto_rollback
from local_store.models import Alert, Calendar, EventState, MigrationState, Mutation
from tests.migration.conftest import Mess

PLAN_WRITES = 19
BLOCKS_AFTER_BACKFILL = 12  # standup, lunch, 3 weekly on B and C; dentist on A and C


def _prepared_plan(m: Mess, tmp_path: Path, batch: int = 2) -> Path:
    assert m.cli("migrate", "discover")[0] == 0
    assert m.cli("migrate", "prepare")[0] == 0
    plan = tmp_path / "plan.json"
    assert m.cli("migrate", "plan", "--out", str(plan), "--batch-size", str(batch))[0] == 0
    return plan


def _assert_one_block_each(m: Mess) -> None:
    """Exactly one stamped block per (source, target) and no legacy leftovers to delete."""
    pairs: Counter[tuple[str, str]] = Counter()
    ids: Counter[str] = Counter()
    for cal, events in m.google().items():
        for e in events:
            props = private_props(e)
            if props.get("calsync_type") == "busy_block":
                pairs[(cal, props["calsync_source"])] += 1
                ids[props["calsync_id"]] += 1
    assert sum(pairs.values()) == BLOCKS_AFTER_BACKFILL, pairs
    assert max(pairs.values()) == 1 and max(ids.values()) == 1


def _modes(m: Mess) -> dict[str, str]:
    with m.world.ctx.store.session() as s:
        return {c.google_id: c.engine_mode for c in s.exec(select(Calendar))}


def test_backfill_survives_sigkill_with_faults_and_writes_nothing_twice(
    mess: Mess, tmp_path: Path
) -> None:
    m = mess
    plan = _prepared_plan(m, tmp_path, batch=2)
    m.sandbox.reset_stats()
    m.sandbox.set_faults("rate=0.15,error5xx=0.1,latency_ms=40,seed=11")
    # quick retries for the injected faults (Settings.extra, read by the gateway's policy)
    m.world.home.config_path.write_text(
        json.dumps({"extra": {"backoff_base": 0.01, "backoff_cap": 0.05}})
    )
    proc = m.start_backfill(plan)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("progress:"):
            break
    time.sleep(0.05)  # land inside the next batch
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, lines
    with m.world.ctx.store.session() as s:
        rows = list(s.exec(select(Mutation)))
    assert len(rows) == PLAN_WRITES, lines  # journaled up front, before any call
    done_before = sum(1 for r in rows if r.status == "done")
    assert 0 < done_before < PLAN_WRITES

    # resume: the same command finishes the plan; nothing is applied twice
    code, _, err = m.cli("migrate", "backfill", "--plan", str(plan), "--yes")
    assert code == 0, err
    m.sandbox.set_faults(None)
    stats = m.sandbox.stats()
    assert stats["writes"] == PLAN_WRITES, stats
    _assert_one_block_each(m)
    with m.world.ctx.store.session() as s:
        assert {r.status for r in s.exec(select(Mutation))} == {"done"}


def test_pause_between_batches_then_resume(mess: Mess, tmp_path: Path) -> None:
    m = mess
    plan = _prepared_plan(m, tmp_path, batch=3)
    env = m.env()
    seen: list[Progress] = []

    def pause_after_first(p: Progress) -> None:
        seen.append(p)
        if len(seen) == 1:
            service.set_paused(env, True)

    out = service.backfill(env, plan, progress=pause_after_first).to_json()
    assert out["progress"]["paused"] and out["journal"]["done"] == 3
    assert out["journal"]["pending"] == PLAN_WRITES - 3
    assert not out["gate"]["passed"]
    # a paused migration refuses to start another run
    code, _, err = m.cli("migrate", "backfill", "--plan", str(plan), "--yes")
    assert code == 1 and "paused" in err
    res = m.cli_json("migrate", "resume")
    assert res["continued"] and res["journal"]["done"] == PLAN_WRITES and res["gate"]["passed"]
    assert seen[0].total == PLAN_WRITES and seen[0].rate > 0
    _assert_one_block_each(m)


def test_rollback_level1_is_instant_and_writes_nothing(mess: Mess, tmp_path: Path) -> None:
    m = mess
    plan = _prepared_plan(m, tmp_path)
    assert m.cli("migrate", "backfill", "--plan", str(plan), "--yes")[0] == 0
    m.cli_json("migrate", "rollout", "--percent", "100")
    assert set(_modes(m).values()) == {EngineMode.HYBRID}
    m.sandbox.reset_stats()
    dry = m.cli_json("migrate", "rollback", "--level", "1", "--calendar-id", m.b, "--dry-run")
    assert dry["calendars"] == [m.b] and _modes(m)[m.b] == EngineMode.HYBRID
    m.cli_json("migrate", "rollback", "--level", "1", "--calendar-id", m.b, "--yes")
    modes = _modes(m)
    assert modes[m.b] == EngineMode.LEGACY and modes[m.a] == EngineMode.HYBRID
    m.cli_json("migrate", "rollback", "--level", "1", "--yes")
    assert set(_modes(m).values()) == {EngineMode.LEGACY}
    assert m.sandbox.stats()["total"] == 0  # not even a read
    with m.world.ctx.store.session() as s:
        st = s.get(MigrationState, 1)
        assert st is not None and st.phase == 2 and st.legacy_detection


def test_rollback_level2_keeps_user_edits_unless_forced(mess: Mess, tmp_path: Path) -> None:
    m = mess
    pre = m.google()
    plan = _prepared_plan(m, tmp_path)
    assert m.cli("migrate", "backfill", "--plan", str(plan), "--yes")[0] == 0
    m.sandbox.patch_event(m.a, m.ids["standup"], {"summary": "Standup (moved room)"})
    preview = m.cli_json("migrate", "rollback", "--level", "2", "--dry-run")
    assert [c["event_id"] for c in preview["conflicts"]] == [m.ids["standup"]]
    rb = m.cli_json("migrate", "rollback", "--level", "2", "--yes")
    assert [c["event_id"] for c in rb["kept_conflicts"]] == [m.ids["standup"]]
    kept = next(e for e in m.google()[m.a] if e["id"] == m.ids["standup"])
    assert kept["summary"] == "Standup (moved room)" and private_props(kept)
    # every other event is back as it was
    now = m.google()
    for cal in pre:
        assert [e for e in now[cal] if e["id"] != m.ids["standup"]] == [
            e for e in pre[cal] if e["id"] != m.ids["standup"]
        ]
    rb = m.cli_json("migrate", "rollback", "--level", "2", "--yes", "--force")
    assert rb["kept_conflicts"] == [] and rb["journal"]["done"] == 1
    forced = next(e for e in m.google()[m.a] if e["id"] == m.ids["standup"])
    assert forced["summary"] == "Standup" and not private_props(forced)  # fully restored


def test_rollback_level3_backs_up_then_drops_correlation_state(mess: Mess, tmp_path: Path) -> None:
    m = mess
    plan = _prepared_plan(m, tmp_path)
    assert m.cli("migrate", "backfill", "--plan", str(plan), "--yes")[0] == 0
    m.world.sync()  # the engine fills EventState
    with m.world.ctx.store.session() as s:
        assert list(s.exec(select(EventState)))
        journal_rows = len(list(s.exec(select(Mutation))))
    preview = m.cli_json("migrate", "rollback", "--level", "3", "--dry-run")
    assert preview["drops"]["event_states"] > 0
    m.sandbox.reset_stats()
    out = m.cli_json("migrate", "rollback", "--level", "3", "--yes")
    backup = Path(out["backup"])
    assert backup.exists() and (backup.stat().st_mode & 0o777) == 0o600
    assert m.sandbox.stats()["total"] == 0
    with m.world.ctx.store.session() as s:
        assert list(s.exec(select(EventState))) == []
        assert len(list(s.exec(select(Mutation)))) == journal_rows  # journal kept
        st = s.get(MigrationState, 1)
        assert st is not None and st.phase == 0 and st.gates_json == "{}"
    assert set(_modes(m).values()) == {EngineMode.LEGACY}
    # the backup holds the dropped state
    import sqlite3

    with sqlite3.connect(backup) as conn:
        assert conn.execute("select count(*) from eventstate").fetchone()[0] > 0


def test_auto_rollback_on_cascade_or_error_rate(mess: Mess, tmp_path: Path) -> None:
    m = mess
    plan = _prepared_plan(m, tmp_path)
    assert m.cli("migrate", "backfill", "--plan", str(plan), "--yes")[0] == 0
    m.cli_json("migrate", "rollout", "--percent", "100")
    with m.world.ctx.store.session() as s:
        assert check_auto_rollback(s, {"cascades": 0, "success_rate": 1.0}) == []
        msgs = check_auto_rollback(
            s,
            {"per_calendar": {m.b: {"writes": 10, "failed": 2}, m.a: {"writes": 10, "failed": 0}}},
        )
        assert len(msgs) == 1 and m.b in msgs[0] and "error rate 20.0%" in msgs[0]
    assert _modes(m)[m.b] == EngineMode.LEGACY and _modes(m)[m.a] == EngineMode.HYBRID
    with m.world.ctx.store.session() as s:
        msgs = check_auto_rollback(s, {"cascades": 2, "success_rate": 1.0})
        assert len(msgs) == 2 and all("cascade" in x for x in msgs)
        alerts = list(s.exec(select(Alert)))
    assert len(alerts) == 3 and {a.kind for a in alerts} == {"auto_rollback"}
    assert set(_modes(m).values()) == {EngineMode.LEGACY}
    status = m.cli_json("migrate", "status")
    assert len(status["alerts"]) == 3


def test_cutover_retitles_legacy_blocks_and_level2_undoes_it(mess: Mess, tmp_path: Path) -> None:
    m = mess
    pre = m.google()
    plan = _prepared_plan(m, tmp_path)
    assert m.cli("migrate", "backfill", "--plan", str(plan), "--yes")[0] == 0
    m.cli_json("migrate", "rollout", "--percent", "100")
    m.sandbox.reset_stats()
    dry = m.cli_json("migrate", "cutover", "--dry-run")
    retitles = {w["event_id"]: w["body"]["summary"] for w in dry["writes"]}
    assert len(retitles) == BLOCKS_AFTER_BACKFILL
    assert set(retitles.values()) == {
        "Busy - Standup",
        "Busy - Lunch",
        "Busy - Weekly",
        "Busy - Dentist",
    }
    assert m.sandbox.stats()["writes"] == 0
    code, _, err = m.cli("migrate", "cutover", "--yes")  # no clean cycles yet: gate refuses
    assert code == 1 and "rollout gate not passed" in err
    out = service.cutover(m.env(), dry_run=False, force_gate=True).to_json()
    assert out["complete"] and out["journal"]["done"] == BLOCKS_AFTER_BACKFILL
    titles = {e["id"]: e["summary"] for events in m.google().values() for e in events}
    assert all(titles[eid] == want for eid, want in retitles.items())
    with m.world.ctx.store.session() as s:
        cut = list(s.exec(select(Mutation).where(Mutation.origin == "cutover")))
    assert len(cut) == BLOCKS_AFTER_BACKFILL and all(r.before_json for r in cut)
    assert set(_modes(m).values()) == {EngineMode.UUID}
    # right after cutover, level 2 puts every event back exactly
    rb = m.cli_json("migrate", "rollback", "--level", "2", "--yes")
    assert rb["complete"] and rb["kept_conflicts"] == []
    assert m.google() == pre


def test_scoped_plan_backfill_and_rollback_touch_one_calendar(mess: Mess, tmp_path: Path) -> None:
    m = mess
    pre = m.google()
    assert m.cli("migrate", "discover")[0] == 0
    assert m.cli("migrate", "prepare")[0] == 0
    plan = tmp_path / "c.json"
    out = m.cli_json("migrate", "plan", "--calendar-id", m.c, "--out", str(plan))
    assert {w["calendar"] for w in out["writes"]} == {m.c} and out["write_count"] == 6
    code, _, err = m.cli("migrate", "backfill", "--plan", str(plan), "--yes", "--calendar-id", m.b)
    assert code == 1 and "covers" in err
    res = m.cli_json("migrate", "backfill", "--plan", str(plan), "--yes", "--calendar-id", m.c)
    assert res["journal"]["done"] == 6
    after = m.google()
    assert after[m.a] == pre[m.a] and after[m.b] == pre[m.b] and after[m.c] != pre[m.c]
    rb = m.cli_json("migrate", "rollback", "--level", "2", "--calendar-id", m.c, "--yes")
    assert rb["complete"]
    assert m.google() == pre
    code, _, err = m.cli("migrate", "plan", "--calendar-id", "nope@example.com")
    assert code == 1 and "not an enabled calendar" in err


def test_plan_and_later_steps_before_prepare_name_the_command_to_run(
    mess: Mess, tmp_path: Path
) -> None:
    m = mess
    plan = tmp_path / "plan.json"
    for before in ((), ("migrate", "discover")):  # a fresh home, then after discover
        if before:
            assert m.cli(*before)[0] == 0
        code, out, err = m.cli("migrate", "plan", "--out", str(plan))
        assert code == 1 and out == ""
        assert err.count("\n") == 1 and "run `calsync-tui migrate prepare` first" in err, err
        assert not plan.exists()
        code, _, err = m.cli("migrate", "cutover", "--dry-run")
        assert code == 1 and "run `calsync-tui migrate prepare` first" in err, err
    assert m.sandbox.stats()["writes"] == 0
    with m.world.ctx.store.session() as s:
        assert list(s.exec(select(Mutation))) == []
    # once prepared, plan works and the next early step names what follows
    assert m.cli("migrate", "prepare")[0] == 0
    assert m.cli("migrate", "plan", "--out", str(plan))[0] == 0 and plan.exists()
    code, _, err = m.cli("migrate", "rollout", "--percent", "10")
    assert code == 1 and "calsync-tui migrate backfill --plan FILE --yes" in err, err
