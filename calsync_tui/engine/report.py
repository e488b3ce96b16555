"""What one cycle did: its metrics (also written as a SyncRun row) and its plan.

The cycle's last stage fills it (`engine/outcome.py`); the CLI prints it, the console
shows it, the migration's rollout gate reads the SyncRun rows made from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from calsync_tui.engine import scope
from calsync_tui.engine.plan import Plan


@dataclass
class CycleReport:
    """Metrics of one cycle; also written as a SyncRun row."""

    dry_run: bool
    started_at: datetime
    duration_ms: float = 0.0
    calendars: int = 0
    events_listed: int = 0
    events_seen: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    planned: dict[str, int] = field(default_factory=dict)
    mutations: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    api_calls: int = 0
    api_round_trips: int = 0
    cascades: int = 0
    stuck: int = 0
    success_rate: float = 1.0
    latency_ms: float | None = None
    latency_p50_ms: float | None = None
    needs_signin: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    plan: Plan | None = None
    run_id: int | None = None
    reconciled: int = 0
    # google calendar id -> {"cascades", "writes", "failed"} (auto-rollback per calendar)
    per_calendar: dict[str, dict[str, int]] = field(default_factory=dict)
    # "full" (planned over the whole store) or "scoped" (changed families only; see scope.py)
    scope: str = scope.FULL
    scope_reason: str = ""
    # extra listings of the window's newly reached slice (window.py): at most one per
    # calendar per day
    slices: int = 0
    # google calendar id -> why its listing was held back (mass-deletion guard, guard.py)
    held: dict[str, str] = field(default_factory=dict)
    # Other installations' markers on the enabled calendars (engine.foreign; adoption)
    foreign: list[Any] = field(default_factory=list)

    def to_json(self, *, with_plan: bool = False) -> dict[str, Any]:
        """Every field under its own name (the one list is the dataclass's), but
        `started_at` as ISO text, `duration_ms` rounded, the plan as `plan_id` (the whole
        plan too `with_plan`) and `foreign` as `foreign_installations`."""
        out: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_AS_IS
        }
        out["started_at"] = self.started_at.isoformat()
        out["duration_ms"] = round(self.duration_ms, 1)
        out["plan_id"] = self.plan.plan_id if self.plan else None
        out["foreign_installations"] = [f.to_json() for f in self.foreign]
        if with_plan and self.plan is not None:
            out["plan"] = self.plan.to_json()
        return out

    def summary(self) -> str:
        """One line for people."""
        verb = "would write" if self.dry_run else "wrote"
        count = sum(self.planned.values()) if self.dry_run else sum(self.mutations.values())
        ops = self.planned if self.dry_run else self.mutations
        detail = ", ".join(f"{k} {v}" for k, v in sorted(ops.items())) or "nothing"
        return (
            f"{self.calendars} calendars, {self.events_seen} events; {verb} {count} ({detail}); "
            f"failed {self.failed}, cascades {self.cascades}, stuck {self.stuck}, "
            f"{self.api_calls} API calls in {self.api_round_trips} round trips, {self.duration_ms:.0f} ms"
        )


_NOT_AS_IS = frozenset({"plan", "foreign"})  # in to_json under other names
