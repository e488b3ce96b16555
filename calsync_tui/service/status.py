"""`calsync-tui status` as a value: phase, gates, modes, counts per class, coverage, the
last cycle, open alerts and accounts, read from the store only (`local_store.queries`).

A reader: it never takes the home's writer lock and writes nothing but what opening the
store needs. `to_json()` is the CLI's `status --json` object.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from calsync_tui import clock
from calsync_tui.context import AppContext
from calsync_tui.engine.foreign import ForeignInstallation, read_foreign_conn
from calsync_tui.locking import lock_holder
from calsync_tui.migration.gates import standing
from calsync_tui.migration.phases import GateResult
from calsync_tui.migration.service import current_gate
from calsync_tui.service.labels import phase_name
from calsync_tui.writes.lockout import Lockout, paused_accounts
from calsync_tui.writes.refusals import Refusal, refusals
from local_store import queries
from local_store.models import Alert, SyncRun


@dataclass(frozen=True)
class MigrationStatus:
    phase: int
    phase_name: str
    paused: bool
    rollout_percent: int
    legacy_detection: bool
    active_plan_id: str | None
    approved_plan_id: str | None
    gates: Mapping[str, Any]  # the recorded gates that still stand (gates.standing)
    current_gate: GateResult | None = None  # the current phase's gate, checked now

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "gates": dict(self.gates),
            "current_gate": self.current_gate.to_json() if self.current_gate else None,
        }


@dataclass(frozen=True)
class Coverage:
    """Sources on enabled calendars, those with a block on every other writable target."""

    sources: int
    covered: int
    percent: float


@dataclass(frozen=True)
class StatusReport:
    home: str
    installation_id: str
    schema_revision: str | None
    writer: Mapping[str, Any] | None  # the home's lock holder (pid, purpose), if any
    migration: MigrationStatus
    engine_modes: Mapping[str, int]  # engine mode -> enabled calendars in it
    class_totals: Mapping[str, int]
    coverage: Coverage
    calendars: Sequence[queries.CalendarSummary]
    last_cycle: SyncRun | None  # the latest sync cycle
    last_run: SyncRun | None  # the latest run of any kind
    alerts: Sequence[Alert]  # open, newest first
    accounts: Sequence[queries.AccountSummary]
    refusals: Sequence[Refusal] = ()  # writes Google refused for good (standing)
    writes_paused: Sequence[Lockout] = ()  # accounts under Google's usage limit
    # other installations' stamps and blocks on the enabled calendars (engine.foreign)
    foreign: Sequence[ForeignInstallation] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "installation_id": self.installation_id,
            "schema_revision": self.schema_revision,
            "writer": dict(self.writer) if self.writer is not None else None,
            "migration": self.migration.to_json(),
            "engine_modes": dict(self.engine_modes),
            "class_totals": dict(self.class_totals),
            "coverage": asdict(self.coverage),
            "calendars": [{**asdict(c), "writable": c.writable} for c in self.calendars],
            "last_cycle": run_json(self.last_cycle),
            "last_run": run_json(self.last_run),
            "alerts": [a.model_dump() for a in self.alerts],
            "accounts": [asdict(a) for a in self.accounts],
            "refusals": [r.to_json() for r in self.refusals],
            "writes_paused": [
                {"account": p.account, "until": p.until.isoformat(), "level": p.level}
                for p in self.writes_paused
            ],
            "foreign_installations": [f.to_json() for f in self.foreign],
        }


def run_json(run: SyncRun | None) -> dict[str, Any] | None:
    """A SyncRun as JSON, its `*_json` columns decoded (`classes`, `mutations`)."""
    if run is None:
        return None
    value = run.model_dump()
    for key in ("classes_json", "mutations_json"):
        raw = value.pop(key)
        try:
            value[key.removesuffix("_json")] = json.loads(raw or "{}")
        except ValueError:
            value[key.removesuffix("_json")] = {}
    return value


def status_report(ctx: AppContext) -> StatusReport:
    """Everything `status` shows, in one read of the store."""
    with ctx.store.session() as session:
        state = queries.peek_migration_state(session)
        try:
            gates = json.loads(state.gates_json or "{}")
        except ValueError:
            gates = {}
        gates = standing(gates, state.phase) if isinstance(gates, dict) else {}
        calendars = queries.calendar_summaries(session)
        sources, covered, percent = queries.overall_coverage(session)
        runs = queries.latest_runs(session, 1, kind="sync")
        last_any = queries.latest_runs(session, 1)
        return StatusReport(
            home=str(ctx.home.root),
            installation_id=ctx.installation_id,
            schema_revision=ctx.store.schema_revision(),
            writer=lock_holder(ctx.home),
            migration=MigrationStatus(
                phase=state.phase,
                phase_name=phase_name(state.phase),
                paused=state.paused,
                rollout_percent=state.rollout_percent,
                legacy_detection=state.legacy_detection,
                active_plan_id=state.active_plan_id,
                approved_plan_id=state.approved_plan_id,
                gates=gates,
                current_gate=current_gate(session, ctx.settings.rollout_clean_cycles),
            ),
            engine_modes=dict(Counter(c.engine_mode for c in calendars if c.enabled)),
            class_totals=queries.class_totals(session),
            coverage=Coverage(sources, covered, percent),
            calendars=calendars,
            last_cycle=runs[0] if runs else None,
            last_run=last_any[0] if last_any else None,
            alerts=queries.open_alerts(session),
            accounts=queries.account_summaries(session),
            refusals=refusals(session),
            writes_paused=paused_accounts(session),
            foreign=read_foreign_conn(
                session.connection(),
                interval_seconds=ctx.settings.sync_interval_seconds,
                now=clock.now(),
            ),
        )
