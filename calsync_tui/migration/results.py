"""What the migration's operations return: typed results both faces read by attribute.

Each has `to_json()`, the exact object the CLI prints with `--json` (its keys are part of
the CLI's contract), and the console reads the same fields. `migration.service` makes
them; `service.outcomes` turns them into the console's one-line summaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from calsync_tui.engine.model import MutationStatus
from calsync_tui.migration.journal import Progress
from calsync_tui.migration.linking import LinkReport
from calsync_tui.migration.phases import GateResult
from calsync_tui.migration.plan_file import MigrationPlan
from calsync_tui.migration.planner import PlannedWrite


@dataclass(frozen=True)
class CalendarCounts:
    """One calendar's events per class and the legacy findings (`Inventory.counts`)."""

    calendar: str  # Google calendar id
    summary: str
    counts: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"calendar": self.calendar, "summary": self.summary, **self.counts}


@dataclass(frozen=True)
class InventoryReport:
    """`discover` (and `prepare`, which adds its gate): counts per calendar and in all."""

    calendars: Sequence[CalendarCounts]
    totals: Mapping[str, int]
    events_seen: int
    fingerprint: str
    api_calls: int
    links: LinkReport
    gate: GateResult | None = None  # prepare's gate; None for discover
    # discover: other installations' stamps and blocks (engine.foreign, JSON form)
    foreign: Sequence[Mapping[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "calendars": [c.to_json() for c in self.calendars],
            "totals": dict(self.totals),
            "events_seen": self.events_seen,
            "fingerprint": self.fingerprint,
            "api_calls": self.api_calls,
            "links": self.links.to_json(),
        }
        if self.gate is not None:
            out["gate"] = self.gate.to_json()
        if self.foreign is not None:
            out["foreign_installations"] = [dict(f) for f in self.foreign]
        return out


@dataclass(frozen=True)
class JournalCounts:
    """Journal rows of one plan per status, and their total (`journal.counts`)."""

    by_status: Mapping[str, int]

    def __getitem__(self, status: str) -> int:
        return int(self.by_status.get(status, 0))

    @property
    def done(self) -> int:
        return self[MutationStatus.DONE]

    @property
    def failed(self) -> int:
        return self[MutationStatus.FAILED]

    @property
    def pending(self) -> int:
        return self[MutationStatus.PENDING]

    @property
    def total(self) -> int:
        return self["total"]

    def to_json(self) -> dict[str, int]:
        return dict(self.by_status)


@dataclass(frozen=True)
class RunResult:
    """One run of journaled writes (backfill, its resume, cutover, a rollback's resume)."""

    plan_id: str
    progress: Progress
    journal: JournalCounts
    gate: GateResult | None = None  # backfill: the backfill gate after the run
    complete: bool | None = None  # cutover: whether it finished (modes switched)
    continued: str | None = None  # resume: the plan it continued
    rollback: bool = False  # a rollback's journal (its JSON names it `rollback_id`)

    @property
    def paused(self) -> bool:
        return self.progress.paused

    def to_json(self) -> dict[str, Any]:
        key = "rollback_id" if self.rollback else "plan_id"
        out: dict[str, Any] = {
            key: self.plan_id,
            "progress": self.progress.to_json(),
            "journal": self.journal.to_json(),
        }
        if self.gate is not None:
            out["gate"] = self.gate.to_json()
        if self.complete is not None:
            out["complete"] = self.complete
        if self.continued is not None:
            out["continued"] = self.continued
        return out


@dataclass(frozen=True)
class NothingToResume:
    """`resume` cleared the pause flag and found no unfinished plan."""

    def to_json(self) -> dict[str, Any]:
        return {"paused": False, "continued": None}


@dataclass(frozen=True)
class PauseResult:
    paused: bool
    active_plan_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {"paused": self.paused, "active_plan_id": self.active_plan_id}


@dataclass(frozen=True)
class RolloutResult:
    """Hybrid mode on a stable `percent` of calendars: which ones, and the rollout gate."""

    percent: int
    hybrid: Sequence[str]  # Google calendar ids now in hybrid mode
    gate: GateResult

    def to_json(self) -> dict[str, Any]:
        return {"percent": self.percent, "hybrid": list(self.hybrid), "gate": self.gate.to_json()}


@dataclass(frozen=True)
class CutoverPreview:
    """`cutover --dry-run`: the block writes it would make and the gate, or the
    interrupted cutover it would continue."""

    plan: MigrationPlan | None = None
    gate: GateResult | None = None
    resume_plan_id: str | None = None

    @property
    def writes(self) -> Sequence[PlannedWrite]:
        return self.plan.writes if self.plan is not None else ()

    def to_json(self) -> dict[str, Any]:
        if self.plan is None:
            return {"dry_run": True, "resume_plan_id": self.resume_plan_id}
        return {
            "dry_run": True,
            "plan": self.plan.summary(),
            "writes": [w.to_json() for w in self.plan.writes],
            "gate": self.gate.to_json() if self.gate is not None else None,
        }


@dataclass(frozen=True)
class RollbackResult:
    """A rollback at one level: level 1 the calendars set back to legacy; level 2 the undo
    run and the conflicts it kept; level 3 the backup file and the rows dropped."""

    level: int
    calendars: Sequence[str] = ()  # level 1
    run: RunResult | None = None  # level 2
    kept_conflicts: Sequence[Mapping[str, Any]] = ()  # level 2
    backup: str | None = None  # level 3
    dropped: Mapping[str, int] = field(default_factory=dict)  # level 3

    @property
    def complete(self) -> bool:
        return self.run.complete is not False if self.run is not None else True

    @property
    def failed(self) -> int:
        return self.run.journal.failed if self.run is not None else 0

    def to_json(self) -> dict[str, Any]:
        if self.level == 1:
            return {"level": 1, "calendars": list(self.calendars)}
        if self.level == 3:
            return {"level": 3, "backup": self.backup, "dropped": dict(self.dropped)}
        assert self.run is not None
        return {
            "level": 2,
            "rollback_id": self.run.plan_id,
            "journal": self.run.journal.to_json(),
            "kept_conflicts": [dict(c) for c in self.kept_conflicts],
            "complete": self.complete,
            "progress": self.run.progress.to_json(),
        }


@dataclass(frozen=True)
class PlanCounts:
    """The active plan and its journal rows per status (the overview's `active_plan`)."""

    plan_id: str
    journal: JournalCounts

    def to_json(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, **self.journal.to_json()}


@dataclass(frozen=True)
class UnfinishedPlan:
    """The active plan while it still has writes to send: a backfill, cutover or
    rollback stopped by a pause, a crash or kill -9 (`migrate resume` continues it)."""

    plan_id: str
    kind: str  # backfill | cutover | rollback
    journal: JournalCounts
    paused: bool

    @property
    def done(self) -> int:
        """Rows settled with Google (done, undone, refused for good, replaced)."""
        j = self.journal
        return (
            j.done
            + j[MutationStatus.UNDONE]
            + j[MutationStatus.REFUSED]
            + j[MutationStatus.REPLACED]
        )

    @property
    def total(self) -> int:
        return self.journal.total - self.journal[MutationStatus.SKIPPED]

    def line(self, running: bool = False) -> str:
        """`backfill plan 1a2b3c4d interrupted: 6/19 done, 13 pending` (`paused`, or
        `running` while a process sends it)."""
        how = "running" if running else "paused" if self.paused else "interrupted"
        failed = f", {self.journal.failed} failed" if self.journal.failed else ""
        return (
            f"{self.kind} plan {self.plan_id[:8]} {how}: {self.done}/{self.total} done, "
            f"{self.journal.pending} pending{failed}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "kind": self.kind,
            "paused": self.paused,
            "done": self.done,
            "total": self.total,
            "pending": self.journal.pending,
            "failed": self.journal.failed,
        }


@dataclass(frozen=True)
class CalendarMode:
    calendar: str  # Google calendar id
    summary: str
    engine_mode: str
    rollout_bucket: int

    def to_json(self) -> dict[str, Any]:
        return {
            "calendar": self.calendar,
            "summary": self.summary,
            "engine_mode": self.engine_mode,
            "rollout_bucket": self.rollout_bucket,
        }


@dataclass(frozen=True)
class PhaseOverview:
    """Everything `migrate status` shows, from the store only."""

    phase: int
    phase_name: str
    paused: bool
    rollout_percent: int
    legacy_detection: bool
    active_plan: PlanCounts | None
    approved_plan_id: str | None
    gates: Mapping[str, Any]
    history: Sequence[Mapping[str, Any]]
    calendars: Sequence[CalendarMode]
    alerts: Sequence[Mapping[str, Any]]  # open auto-rollback alerts: at, kind, message
    journal: Mapping[str, Mapping[str, int]]  # origin -> status -> rows
    interrupted: UnfinishedPlan | None = None  # the active plan, while it has writes left
    current_gate: GateResult | None = None  # the current phase's gate, checked now

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "phase_name": self.phase_name,
            "paused": self.paused,
            "rollout_percent": self.rollout_percent,
            "legacy_detection": self.legacy_detection,
            "active_plan": self.active_plan.to_json() if self.active_plan else None,
            "interrupted_plan": self.interrupted.to_json() if self.interrupted else None,
            "current_gate": self.current_gate.to_json() if self.current_gate else None,
            "approved_plan_id": self.approved_plan_id,
            "gates": dict(self.gates),
            "history": [dict(h) for h in self.history],
            "calendars": [c.to_json() for c in self.calendars],
            "alerts": [dict(a) for a in self.alerts],
            "journal": {k: dict(v) for k, v in self.journal.items()},
        }
