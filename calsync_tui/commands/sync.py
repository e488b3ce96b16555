"""`calsync-tui sync`: one cycle (`--once`), a preview (`--dry-run`), or a loop."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from calsync_tui import clock
from calsync_tui.commands.output import print_json
from calsync_tui.commands.progress import SyncProgress
from calsync_tui.context import AppContext
from calsync_tui.errors import UsageError

if TYPE_CHECKING:
    from calsync_tui.engine.report import CycleReport


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sync", parents=[common], help="run sync cycles (--once, --dry-run)")
    p.add_argument("--once", action="store_true", help="one cycle, then exit")
    p.add_argument("--dry-run", action="store_true", help="plan and show; write nothing")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--interval", type=int, default=None, help="seconds between cycles (loop)")
    p.add_argument("--verbose", "-v", action="store_true", help="list planned mutations")
    p.add_argument(
        "--confirm-deletions",
        action="store_true",
        help="let deletions through that the mass-deletion guard held back",
    )
    p.add_argument(
        "--progress-jsonl",
        action="store_true",
        help="with --once: one JSON object a line on stdout, each engine event and then "
        "the outcome (how the console runs its cycles; SIGTERM stops after the batch)",
    )
    p.set_defaults(func=run)


def stamp() -> str:
    """When a line was printed (domain time, `clock`), local to this machine."""
    return clock.now().astimezone().strftime("%Y-%m-%d %H:%M:%S ")


def _print(
    report: Any, args: argparse.Namespace, when: str = "", names: dict[str, str] | None = None
) -> None:
    if args.json:
        print_json(report.to_json(with_plan=args.dry_run or args.verbose))
        return
    print(when + ("dry run: " if report.dry_run else "") + report.summary(), flush=True)
    if (args.dry_run or args.verbose) and report.plan is not None:
        from calsync_tui.service.plans import mutation_line, write_text

        for n, m in enumerate(report.plan.mutations, start=1):
            print("\n".join(write_text(mutation_line(n, m, names))))
    for err in report.errors[:10]:
        print(f"  error: {err}", file=sys.stderr)
    for message in report.held.values():
        print(f"  held: {message}", file=sys.stderr)
    # adoption notice (engine.foreign): another installation's stamps and blocks
    for foreign in getattr(report, "foreign", []):
        for line in foreign.lines():
            print(line, flush=True)


def _names(ctx: AppContext) -> dict[str, str]:
    """Google calendar id -> the name the person knows it by (plan lines)."""
    from local_store import queries

    with ctx.store.session() as session:
        return queries.summaries_by_google_id(session)


def _cycle(ctx: AppContext, **kw: Any) -> CycleReport:
    """One cycle through the service (engine + auto-rollback); rollbacks go to stderr."""
    from calsync_tui.service.cycle import run_cycle

    report, rolled_back = run_cycle(ctx, **kw)
    for line in rolled_back:
        print(line, file=sys.stderr)
    return report


def _progress_jsonl(args: argparse.Namespace, once: bool) -> int:
    """The console's engine process (`service.engineproc`): one cycle, typed lines."""
    from calsync_tui.service import engineproc

    if not once or args.interval is not None or args.json:
        raise UsageError("--progress-jsonl goes with --once (and not --interval or --json)")
    with AppContext.from_args(args) as ctx, engineproc.writer_lock(ctx.home):
        return engineproc.serve_cycle(
            ctx, dry_run=args.dry_run, confirm_deletions=args.confirm_deletions
        )


def run(args: argparse.Namespace) -> int:
    from calsync_tui.locking import home_lock

    if args.interval is not None and args.interval < 1:
        raise UsageError("--interval must be at least 1 second")
    once = args.once or args.dry_run
    if args.progress_jsonl:
        return _progress_jsonl(args, once)
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    with AppContext.from_args(args) as ctx, home_lock(ctx.home, "sync"):
        interval = args.interval or ctx.settings.sync_interval_seconds
        if once:
            report = _cycle(
                ctx,
                dry_run=args.dry_run,
                confirm_deletions=args.confirm_deletions,
                on_event=SyncProgress(),  # a progress line on stderr (commands/progress.py)
            )
            _print(report, args, names=_names(ctx) if args.dry_run or args.verbose else None)
            return 1 if report.failed or report.errors or report.held else 0
        previous = signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            while not stop.is_set():
                report = _cycle(
                    ctx,
                    cancel=stop.is_set,
                    confirm_deletions=args.confirm_deletions,
                    on_event=SyncProgress(prefix=stamp),
                )
                _print(
                    report,
                    args,
                    when=stamp(),
                    names=_names(ctx) if args.verbose else None,
                )
                stop.wait(interval)
        finally:
            signal.signal(signal.SIGINT, previous)
        print(stamp() + "sync stopped", file=sys.stderr)
    return 0
