"""One sync cycle as both faces run it: the engine's cycle, then the auto-rollback check.

The CLI (`sync`) and the console (the engine worker) call `run_cycle` here; nothing else
decides whether a cycle's cascades or error rate drop calendars back to legacy mode.
"""

from __future__ import annotations

from collections.abc import Callable

from calsync_tui.context import AppContext
from calsync_tui.engine import cycle as engine_cycle
from calsync_tui.engine.events import EventSink
from calsync_tui.engine.report import CycleReport
from calsync_tui.migration.rollback import check_auto_rollback


def run_cycle(
    ctx: AppContext,
    *,
    dry_run: bool = False,
    on_event: EventSink | None = None,
    cancel: Callable[[], bool] | None = None,
    confirm_deletions: bool = False,
) -> tuple[CycleReport, list[str]]:
    """Run one cycle; after a real one, roll back (level 1) what it showed to be unsafe.

    Returns the report and one line per auto-rollback; those lines are also appended to
    `report.alerts`, so every face that shows the report shows them.
    """
    report = engine_cycle.run_cycle(
        ctx,
        dry_run=dry_run,
        on_event=on_event,
        cancel=cancel,
        confirm_deletions=confirm_deletions,
    )
    return report, _after_cycle(ctx, report)


def _after_cycle(ctx: AppContext, report: CycleReport) -> list[str]:
    """Auto-rollback (level 1) when a cycle during rollout saw cascades or too many errors."""
    if report.dry_run:
        return []
    with ctx.store.session() as session:
        done = check_auto_rollback(session, report, ctx.settings.auto_rollback_error_rate)
    report.alerts.extend(done)
    return done
