"""Plans and previews as a reviewer reads them: what the plan review, the rollback and
cutover confirmations show (the CLI prints the same plans from `MigrationPlan`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from calsync_tui.migration.plan_file import MigrationPlan
from calsync_tui.migration.results import CutoverPreview
from calsync_tui.migration.rollback import RollbackPreview

MAX_STEPS = 12


@dataclass(frozen=True)
class PlanLine:
    """One planned write, as the plan review shows it."""

    seq: int
    calendar: str
    op: str
    google_event_id: str
    correlation_id: str | None
    reason: str
    title: str


@dataclass
class PlanView:
    """A plan reduced to what the reviewer needs: totals per calendar and every write."""

    plan_id: str
    lines: list[PlanLine]
    api_calls: int
    round_trips: int
    path: Path | None = None  # the saved plan file the backfill executes
    totals: dict[str, Counter[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.totals:
            for line in self.lines:
                self.totals.setdefault(line.calendar, Counter())[line.op] += 1


def plan_view(plan: MigrationPlan, names: dict[str, str] | None = None) -> PlanView:
    """A `MigrationPlan` as the reviewer reads it; `names` maps Google calendar ids to the
    summaries the person knows them by."""
    names = names or {}
    lines = [
        PlanLine(
            seq=w.seq,
            calendar=names.get(w.calendar, w.calendar),
            op=w.op,
            google_event_id=w.event_id,
            correlation_id=w.correlation_id,
            reason=w.reason,
            title=str((w.body or {}).get("summary") or (w.before or {}).get("summary") or ""),
        )
        for w in plan.writes
    ]
    est = plan.estimate
    return PlanView(plan.plan_id, lines, est["units"], est["round_trips"])


def preview_lines(preview: RollbackPreview, names: dict[str, str] | None = None) -> list[str]:
    """A rollback preview as modal lines: the summary, the calendars, the first undo steps."""
    names = names or {}
    out = preview.summary.splitlines()
    for cal in preview.calendars:
        out.append(f"  {names[cal]} ({cal})" if cal in names else f"  {cal}")
    for step in preview.steps[:MAX_STEPS]:
        conflict = f"  [conflict: {step.conflict}]" if step.conflict else ""
        cal = names.get(step.calendar, step.calendar)
        out.append(f"  {step.action} {cal} {step.event_id}{conflict}")
    if len(preview.steps) > MAX_STEPS:
        out.append(f"  … and {len(preview.steps) - MAX_STEPS} more")
    return out


def cutover_lines(preview: CutoverPreview, names: dict[str, str] | None = None) -> list[str]:
    """`service.cutover(dry_run=True)` as modal lines: block writes per calendar and the gate."""
    names = names or {}
    if preview.resume_plan_id is not None:
        return [f"Continues the interrupted cutover {preview.resume_plan_id}."]
    per_cal: Counter[str] = Counter(w.calendar for w in preview.writes)
    total = sum(per_cal.values())
    out = [f"{total} block(s) get the template content (one patch each)."]
    out += [f"  {names.get(cal, cal)}: {n}" for cal, n in sorted(per_cal.items())]
    gate = preview.gate
    if gate is not None:
        out.append("")
        out.append("Rollout gate: " + ("passed" if gate.passed else "NOT passed"))
        out += [f"  {r}" for r in gate.reasons[:3]]
        if not gate.passed:
            out.append("Yes will be refused until the gate passes (nothing is written).")
    return out
