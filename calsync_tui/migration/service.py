"""The migration's operations, one function per command, shared by the CLI and the TUI.

Each returns a typed result (`migration.results`: frozen dataclasses with `to_json()`
for the CLI's `--json`), so both faces read the same fields. Google is read through the
gateway; every write goes through `journal`. The operations live in modules named for
the phase they serve; this module is the one name the faces call them by
(`service.backfill(...)`, `commands/migrate.py`, `service/backend.py`):

| module | holds |
|---|---|
| `inventory` | discover, prepare (phases 0 and 1) |
| `backfill` | the backfill plan, its run, its gate, superseding an interrupted plan |
| `resume` | pause, resume, the interrupted plan |
| `rollout` | rollout percentages and the rollout gate |
| `cutover` | cutover (dry run, run, resume) |
| `overview` | the current gate, standing gates, the phase overview |
| `origins` | the journal origins of the migration's rows |
"""

from __future__ import annotations

from calsync_tui.migration.backfill import (
    backfill,
    backfill_gate_now,
    default_plan_path,
    enabled_calendars_all,
    make_plan,
    supersede_unfinished,
)
from calsync_tui.migration.cutover import (
    cutover,
)
from calsync_tui.migration.inventory import (
    discover,
    discover_report,
    prepare,
)
from calsync_tui.migration.origins import (
    MIGRATION_ORIGINS,
    ORIGIN_ADOPT,
    ORIGIN_BACKFILL,
    ORIGIN_CUTOVER,
    ORIGIN_ROLLBACK,
    SUPERSEDABLE,
)
from calsync_tui.migration.overview import (
    current_gate,
    phase_overview,
    standing_gates,
)
from calsync_tui.migration.resume import (
    resume,
    set_paused,
    unfinished_plan,
)
from calsync_tui.migration.rollout import (
    rollout,
    rollout_bucket,
    rollout_gate_for,
    rollout_gate_now,
)

__all__ = [
    "MIGRATION_ORIGINS",
    "ORIGIN_ADOPT",
    "ORIGIN_BACKFILL",
    "ORIGIN_CUTOVER",
    "ORIGIN_ROLLBACK",
    "SUPERSEDABLE",
    "backfill",
    "backfill_gate_now",
    "current_gate",
    "cutover",
    "default_plan_path",
    "discover",
    "discover_report",
    "enabled_calendars_all",
    "make_plan",
    "phase_overview",
    "prepare",
    "resume",
    "rollout",
    "rollout_bucket",
    "rollout_gate_for",
    "rollout_gate_now",
    "set_paused",
    "standing_gates",
    "supersede_unfinished",
    "unfinished_plan",
]
