"""Issue 16 defect 7: the stepper and the gates say what stands now. After a level-2
rollback no later phase is marked passed; a paused backfill is drawn paused, not failed;
the rollout gate counts the cycles run since the rollout as they happen."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from calsync_tui.migration import service
from calsync_tui.migration.journal import Progress
from calsync_tui.service import readmodel as rm
from calsync_tui.widgets.phase_stepper import stepper_text
from tests.migration.conftest import Mess


def _prepared_plan(m: Mess, tmp_path: Path, batch: int = 3) -> Path:
    assert m.cli("migrate", "discover")[0] == 0
    assert m.cli("migrate", "prepare")[0] == 0
    plan = tmp_path / "plan.json"
    assert m.cli("migrate", "plan", "--out", str(plan), "--batch-size", str(batch))[0] == 0
    return plan


def _stepper(m: Mess) -> str:
    with m.world.ctx.store.session() as s:
        view = rm.migration_view(s, clean_cycles=3)
    return Text.from_markup(stepper_text(view)).plain


def test_rollout_gate_counts_cycles_then_a_rollback_clears_later_gates(
    mess: Mess, tmp_path: Path
) -> None:
    m = mess
    plan = _prepared_plan(m, tmp_path)
    assert m.cli("migrate", "backfill", "--plan", str(plan), "--yes")[0] == 0
    m.cli_json("migrate", "rollout", "--percent", "100")
    seen = []
    for _ in range(4):
        r = m.world.sync()
        assert r.failed == 0, r.errors
        status = m.cli_json("migrate", "status")
        gate = status["current_gate"]
        assert gate["phase"] == 3
        seen.append(gate["details"]["cycles_seen"])
        if len(seen) == 1:  # clean so far: counted, not drawn as a failure
            assert "3 rollout 1/3 cycles" in _stepper(m), _stepper(m)
    assert seen == [1, 2, 3, 3]  # counted as they run (the last `required` of them)
    assert status["current_gate"]["passed"], status["current_gate"]
    _code, out, _ = m.cli("migrate", "status")
    assert "0 of 3 sync cycle(s)" not in out and "rollout gate: passed" in out, out
    assert "3 rollout ✔" in _stepper(m)

    rb = m.cli_json("migrate", "rollback", "--level", "2", "--yes")
    assert rb["complete"], rb
    status = m.cli_json("migrate", "status")
    assert status["phase"] == 1
    assert "backfill" not in status["gates"] and "rollout" not in status["gates"]
    report = m.cli_json("status")
    assert "rollout" not in report["migration"]["gates"]
    assert "backfill" not in report["migration"]["gates"]
    _code, out, _ = m.cli("status")
    assert "rollout passed" not in out and "backfill passed" not in out, out
    text = _stepper(m)
    assert "2 backfill ✔" not in text and "3 rollout ✔" not in text, text


def test_a_paused_backfill_is_drawn_paused_not_failed(mess: Mess, tmp_path: Path) -> None:
    m = mess
    plan = _prepared_plan(m, tmp_path)
    env = m.env()
    calls: list[Progress] = []

    def pause_after_first(p: Progress) -> None:
        calls.append(p)
        if len(calls) == 1:
            service.set_paused(env, True)

    out = service.backfill(env, plan, progress=pause_after_first)
    assert out.paused
    text = _stepper(m)
    assert "2 backfill ⏸" in text and "✘" not in text, text
    status = m.cli_json("migrate", "status")
    assert status["current_gate"]["details"]["paused"] is True
    assert any("paused" in r for r in status["current_gate"]["reasons"])
