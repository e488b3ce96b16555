"""One line for what a console task returned: the status line and the toast show it."""

from __future__ import annotations

from calsync_tui.migration.phases import GateResult
from calsync_tui.migration.results import (
    InventoryReport,
    NothingToResume,
    PauseResult,
    RollbackResult,
    RolloutResult,
    RunResult,
)

Outcome = (
    str
    | InventoryReport
    | RunResult
    | NothingToResume
    | PauseResult
    | RolloutResult
    | RollbackResult
    | None
)


def outcome_line(result: Outcome) -> str:
    """`paused 3/19, space resumes`, `done 19/19, gate passed`, … (never empty)."""
    if result is None:
        return "done"
    if isinstance(result, str):
        return result
    if isinstance(result, RunResult):
        return ", ".join(_run_parts(result)) or "done"
    if isinstance(result, RolloutResult):
        return ", ".join(_gate_parts(result.gate))
    if isinstance(result, NothingToResume):
        return "nothing to resume"
    if isinstance(result, PauseResult):
        return "paused" if result.paused else "resumed"
    if isinstance(result, RollbackResult):
        if result.run is not None:
            parts = _run_parts(result.run)
            if result.kept_conflicts:
                parts.append(f"{len(result.kept_conflicts)} conflict(s) kept")
            return ", ".join(parts)
        if result.level == 3:
            return f"level 3, backup {result.backup}"
        return f"{len(result.calendars)} calendar(s) back to legacy mode"
    return inventory_line(result)


def inventory_line(report: InventoryReport) -> str:
    totals = {k: v for k, v in report.totals.items() if v}
    parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(totals.items()))
    return f"inventory: {report.events_seen} events ({parts})"


def _run_parts(run: RunResult) -> list[str]:
    p = run.progress
    parts = [f"{'paused' if p.paused else 'done'} {p.done}/{p.total}"]
    if p.failed:
        parts.append(f"{p.failed} failed")
    if p.paused:
        parts.append("space resumes")
    if run.gate is not None:
        parts += _gate_parts(run.gate)
    return parts


def _gate_parts(gate: GateResult) -> list[str]:
    if gate.passed:
        return ["gate passed"]
    return ["gate not passed", *[str(r) for r in gate.reasons[:1]]]
