"""The migration steps as both faces run them, where a step is more than one core call.

`migrate resume` and the console's resume key continue whatever was interrupted (a
backfill, a cutover or a rollback); `migrate rollback` and the console's 1/2/3 keys go
through `rollback`. The single-call steps (discover, prepare, plan, backfill, pause,
rollout, cutover, status) are `migration.service` functions both faces call directly.
"""

from __future__ import annotations

from calsync_tui.migration import rollback as rb
from calsync_tui.migration import service
from calsync_tui.migration.env import MigrationEnv
from calsync_tui.migration.journal import ProgressCallback
from calsync_tui.migration.results import NothingToResume, RollbackResult, RunResult


def resume(
    env: MigrationEnv, *, batch_size: int | None = None, progress: ProgressCallback | None = None
) -> RunResult | NothingToResume:
    """Clear the pause flag; continue the active backfill or cutover, else an interrupted
    rollback (its journal rows still pending)."""
    out = service.resume(env, batch_size=batch_size, progress=progress)
    if isinstance(out, NothingToResume):
        return rb.resume_rollback(env) or out
    return out


def rollback(
    env: MigrationEnv,
    level: int,
    scope: str | None = None,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    why: str = "rollback level 1 (user)",
) -> RollbackResult:
    """Level 1 modes back to legacy (no Google call), 2 undo the migration's Google writes
    (conflicts kept unless `force`), 3 a backup, then drop local correlation state."""
    if level == 1:
        with env.store.session() as session:
            changed = rb.level1(session, scope, why)
            session.commit()
        return RollbackResult(1, calendars=changed)
    if level == 2:
        return rb.level2(env, scope, force=force, progress=progress)
    if level == 3:
        return rb.level3(env, scope)
    raise ValueError(f"rollback level must be 1, 2 or 3, not {level}")
