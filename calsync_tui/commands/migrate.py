"""`calsync-tui migrate`: discover, prepare, plan, backfill, pause/resume, rollout, cutover,
rollback and status. Thin wrappers over `calsync_tui.migration.service` / `.rollback`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from calsync_tui.commands.output import print_json, print_table
from calsync_tui.context import AppContext
from calsync_tui.engine.model import EventClass
from calsync_tui.errors import CalsyncError, UsageError
from calsync_tui.locking import home_lock, lock_holder
from calsync_tui.migration import rollback as rb
from calsync_tui.migration import service
from calsync_tui.migration.env import MigrationEnv
from calsync_tui.migration.journal import Progress, ProgressCallback
from calsync_tui.migration.phases import GateResult, Phase
from calsync_tui.migration.plan_file import MigrationPlan, read_plan
from calsync_tui.migration.results import InventoryReport, NothingToResume, RunResult
from calsync_tui.service import childproc, migrate, migrateproc
from calsync_tui.service.env import migration_env
from calsync_tui.service.labels import CLASS_LABELS, FINDING_LABELS
from calsync_tui.service.outcomes import Outcome
from calsync_tui.service.plans import preview_writes, renewed_lines, write_line, write_text
from local_store import queries

# The discover/prepare table: the classes, then what linking found. Orphaned blocks are
# counted with the legacy orphans (`Inventory.counts`), so they have no column of their own.
_CLASSES = tuple(i for i in CLASS_LABELS if i.key != EventClass.ORPHANED_BLOCK)
COUNT_COLUMNS = tuple((i.key, i.short) for i in (*_CLASSES[:4], *FINDING_LABELS, *_CLASSES[4:]))


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "migrate",
        parents=[common],
        help="discover, prepare, plan, backfill, rollout, cutover, rollback",
    )
    msub = p.add_subparsers(dest="migrate_command", metavar="STEP")
    p.set_defaults(func=_missing_step(p))

    def step(name: str, help_text: str, *, jsonl: bool = False) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = msub.add_parser(name, parents=[common], help=help_text)
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        if jsonl:
            sp.add_argument(
                "--progress-jsonl",
                dest="progress_jsonl",
                action="store_true",
                help="one JSON line per batch, then the outcome (the console's task process)",
            )
        return sp

    sp = step("discover", "read-only inventory of every enabled calendar", jsonl=True)
    sp.set_defaults(func=run_discover)
    sp = step("prepare", "enter phase 1: link legacy blocks to their sources locally")
    sp.set_defaults(func=run_prepare)
    sp = step("plan", "compute the backfill plan and save it for review")
    sp.add_argument("--calendar-id", dest="calendar_id", help="only writes on this calendar")
    sp.add_argument("--out", type=Path, help="plan file (default: <home>/plans/plan-<id>.json)")
    sp.add_argument("--batch-size", dest="batch_size", type=int, help="calls per batch (1-1000)")
    sp.set_defaults(func=run_plan)
    sp = step("backfill", "execute an approved plan (or --dry-run to show one)", jsonl=True)
    sp.add_argument("--plan", type=Path, help="the plan file to execute")
    sp.add_argument(
        "--dry-run", dest="dry_run", action="store_true", help="plan, show, write nothing"
    )
    sp.add_argument("--yes", action="store_true", help="approve the plan without asking")
    sp.add_argument("--batch-size", dest="batch_size", type=int, help="calls per batch (1-1000)")
    sp.add_argument("--calendar-id", dest="calendar_id", help="only this calendar")
    sp.set_defaults(func=run_backfill)
    sp = step("pause", "pause a running backfill after its current batch")
    sp.set_defaults(func=run_pause)
    sp = step("resume", "clear the pause and continue the active plan", jsonl=True)
    sp.add_argument("--batch-size", dest="batch_size", type=int)
    sp.set_defaults(func=run_resume)
    sp = step("rollout", "hybrid engine for a stable N%% of calendars; shows the gate", jsonl=True)
    sp.add_argument("--percent", type=int, help="0-100")
    sp.add_argument(
        "--calendar-id",
        dest="calendar_id",
        action="append",
        default=[],
        help="also this calendar (repeatable)",
    )
    sp.add_argument("--check", action="store_true", help="only show the rollout gate")
    sp.set_defaults(func=run_rollout)
    sp = step("cutover", "uuid engine everywhere, legacy titles to the template", jsonl=True)
    sp.add_argument("--dry-run", dest="dry_run", action="store_true")
    sp.add_argument("--yes", action="store_true")
    sp.add_argument("--batch-size", dest="batch_size", type=int)
    sp.set_defaults(func=run_cutover)
    sp = step("rollback", "level 1 modes, 2 undo Google writes, 3 drop local state", jsonl=True)
    sp.add_argument("--level", type=int, choices=(1, 2, 3), required=True)
    sp.add_argument("--calendar-id", dest="calendar_id")
    sp.add_argument("--dry-run", dest="dry_run", action="store_true")
    sp.add_argument("--yes", action="store_true")
    sp.add_argument("--force", action="store_true", help="level 2: also undo events edited since")
    sp.add_argument("--why", default="rollback level 1 (user)", help=argparse.SUPPRESS)
    sp.set_defaults(func=run_rollback)
    sp = step("status", "phase, gates, modes, active plan")
    sp.set_defaults(func=run_status)


def _missing_step(p: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        p.print_usage(sys.stderr)
        raise UsageError(
            "migrate needs a step: discover, prepare, plan, backfill, rollout, cutover, rollback, pause, resume, status"
        )

    return run


@contextmanager
def _env(args: argparse.Namespace, purpose: str | None) -> Iterator[MigrationEnv]:
    """Context, store and (for writers) the home lock, closed on the way out."""
    with AppContext.from_args(args) as ctx:
        if purpose is None:
            yield migration_env(ctx)
            return
        with home_lock(ctx.home, f"migrate {purpose}"):
            yield migration_env(ctx)


def _jsonl(
    args: argparse.Namespace,
    purpose: str | None,
    task: str,
    work: Callable[[MigrationEnv, ProgressCallback], Outcome],
) -> int:
    """`--progress-jsonl`: the step as the console's task process runs it
    (`service.migrateproc`): a JSON line per batch, then the outcome; for writers under
    the console's writer lock when the console started it, else under its own."""
    if args.json:
        raise UsageError("--progress-jsonl and --json do not go together")
    with AppContext.from_args(args) as ctx:
        lock = childproc.writer_lock(ctx.home, f"migrate {purpose}") if purpose else nullcontext()
        with lock:
            env = migration_env(ctx)
            return migrateproc.serve_task(env, task, lambda progress: work(env, progress))


def _no_jsonl(args: argparse.Namespace, why: str) -> None:
    if getattr(args, "progress_jsonl", False):
        raise UsageError(f"--progress-jsonl does not go with {why}")


def _progress(p: Progress) -> None:
    print(f"progress: {p.line()}", file=sys.stderr, flush=True)


def _confirm(args: argparse.Namespace, question: str) -> None:
    """`--yes`, or an interactive yes; never a silent default when nobody can answer."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise UsageError(
            f"{question.rstrip('?')}: refusing without --yes (stdin is not a terminal)"
        )
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CalsyncError("cancelled; nothing was written")


def _print_counts(report: InventoryReport) -> None:
    rows = [[c.calendar, *[c.counts.get(k, 0) for k, _ in COUNT_COLUMNS]] for c in report.calendars]
    rows.append(["total", *[report.totals.get(k, 0) for k, _ in COUNT_COLUMNS]])
    print_table(["calendar", *[h for _, h in COUNT_COLUMNS]], rows)
    print(f"{report.events_seen} events read in {report.api_calls} API call(s)")


def _gate_line(name: str, gate: GateResult) -> str:
    return _verdict(name, gate.passed, gate.reasons)


def _verdict(name: str, passed: bool, reasons: Sequence[str]) -> str:
    return f"{name}: {'passed' if passed else 'NOT passed: ' + '; '.join(reasons)}"


def run_discover(args: argparse.Namespace) -> int:
    if args.progress_jsonl:
        return _jsonl(args, None, "discover", lambda env, _progress: service.discover(env))
    with _env(args, None) as env:
        report = service.discover(env)
    if args.json:
        print_json(report.to_json())
    else:
        _print_counts(report)
        from calsync_tui.commands.status import print_foreign

        for foreign in report.foreign or ():  # adoption notice
            print_foreign(foreign)
        print("nothing was written to Google; next: `migrate prepare`")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    with _env(args, "prepare") as env:
        report = service.prepare(env)
    gate = report.gate
    assert gate is not None  # prepare always checks its gate
    if args.json:
        print_json(report.to_json())
    else:
        _print_counts(report)
        for amb in report.links.ambiguous:
            cands = ", ".join(f"{c.calendar}/{c.event_id}" for c in amb.candidates)
            print(f"ambiguous: {amb.block.calendar}/{amb.block.event_id} matches {cands}")
        print(_gate_line("prepare gate", gate))
    return 0 if gate.passed else 1


def _names(env: MigrationEnv) -> dict[str, str]:
    """Google calendar id -> the name the person knows it by (plan and preview lines)."""
    with env.store.session() as session:
        return queries.summaries_by_google_id(session)


def _print_plan(
    plan: MigrationPlan, path: Path | None, show_writes: bool, names: dict[str, str] | None = None
) -> None:
    names = names or {}
    rows = [
        [names.get(cal, cal), ", ".join(f"{op} {n}" for op, n in ops.items())]
        for cal, ops in plan.totals.items()
    ]
    if rows:
        print_table(["calendar", "writes"], rows)
    est = plan.estimate
    print(
        f"plan {plan.plan_id}: {est['writes']} write(s) = {est['units']} quota unit(s) in "
        f"{est['round_trips']} round trip(s) of up to {est['batch_size']}"
    )
    if show_writes:
        for w in plan.writes:
            print("\n".join(write_text(write_line(w, names))))
    if path is not None:
        print(f"saved to {path}; review it, then `migrate backfill --plan {path} --yes`")


def run_plan(args: argparse.Namespace) -> int:
    with _env(args, None) as env:
        plan, path = service.make_plan(env, args.calendar_id, args.out, args.batch_size, save=True)
    if args.json:
        print_json(
            {**plan.summary(), "file": str(path), "writes": [w.to_json() for w in plan.writes]}
        )
    else:
        _print_plan(plan, path, show_writes=False)
    return 0


def run_backfill(args: argparse.Namespace) -> int:
    if args.dry_run == bool(args.plan):
        raise UsageError("backfill needs exactly one of --plan FILE or --dry-run")
    if args.dry_run:
        _no_jsonl(args, "--dry-run")
        with _env(args, None) as env:
            plan, _ = service.make_plan(env, args.calendar_id, None, args.batch_size)
            names = _names(env)
        if args.json:
            print_json(
                {**plan.summary(), "dry_run": True, "writes": [w.to_json() for w in plan.writes]}
            )
        else:
            _print_plan(plan, None, show_writes=True, names=names)
            print("dry run: nothing was written")
        return 0
    plan = read_plan(args.plan)
    _confirm(args, f"execute plan {plan.plan_id} ({len(plan.writes)} writes)?")
    if args.progress_jsonl:
        return _jsonl(
            args,
            "backfill",
            "backfill",
            lambda env, progress: service.backfill(
                env,
                args.plan,
                batch_size=args.batch_size,
                scope=args.calendar_id,
                progress=progress,
            ),
        )
    with _env(args, "backfill") as env:
        out = service.backfill(
            env, args.plan, batch_size=args.batch_size, scope=args.calendar_id, progress=_progress
        )
    return _report_run(args, out, "backfill")


def _report_run(args: argparse.Namespace, out: RunResult, what: str) -> int:
    if args.json:
        print_json(out.to_json())
    else:
        j = out.journal
        print(f"{what}: {j.done} done, {j.failed} failed, {j.pending} pending")
        if out.paused:
            print(f"{what} paused; `migrate resume` continues it")
        if out.gate is not None:
            print(_gate_line("gate", out.gate))
    if out.progress.note:  # Google's usage limit: the sync's one line, exit 1
        print(out.progress.note, file=sys.stderr)
        return 1
    return 1 if out.journal.failed else 0


def run_pause(args: argparse.Namespace) -> int:
    with _env(args, None) as env:
        out = service.set_paused(env, True)
    print_json(out.to_json()) if args.json else print(
        "paused: a running backfill stops after its current batch"
    )
    return 0


def run_resume(args: argparse.Namespace) -> int:
    if args.progress_jsonl:
        return _jsonl(
            args,
            "resume",
            "resume",
            lambda env, progress: migrate.resume(
                env, batch_size=args.batch_size, progress=progress
            ),
        )
    with _env(args, "resume") as env:
        out = migrate.resume(env, batch_size=args.batch_size, progress=_progress)
    if isinstance(out, NothingToResume):
        print_json(out.to_json()) if args.json else print("resumed; no unfinished plan to continue")
        return 0
    return _report_run(args, out, "resume")


def run_rollout(args: argparse.Namespace) -> int:
    if args.check:
        _no_jsonl(args, "--check")
        with _env(args, None) as env, env.store.session() as session:
            gate = service.rollout_gate_now(session, env)
        print_json(gate.to_json()) if args.json else print(_gate_line("rollout gate", gate))
        return 0 if gate.passed else 1
    if args.percent is None and not args.calendar_id:
        raise UsageError("rollout needs --percent N and/or --calendar-id ID (or --check)")
    if args.progress_jsonl:
        return _jsonl(
            args,
            "rollout",
            "rollout",
            lambda env, _progress: service.rollout(env, args.percent, args.calendar_id),
        )
    with _env(args, "rollout") as env:
        out = service.rollout(env, args.percent, args.calendar_id)
    if args.json:
        print_json(out.to_json())
    else:
        hybrid = ", ".join(out.hybrid) or "-"
        print(f"hybrid on {len(out.hybrid)} calendar(s) ({out.percent}%): {hybrid}")
        print(_gate_line("rollout gate", out.gate))
    return 0


def run_cutover(args: argparse.Namespace) -> int:
    if args.dry_run:
        _no_jsonl(args, "--dry-run")
        with _env(args, None) as env:
            preview = service.cutover(env, dry_run=True, batch_size=args.batch_size)
            names = _names(env)
        if args.json:
            print_json(preview.to_json())
        else:
            for w in preview.writes:
                print("\n".join(write_text(write_line(w, names))))
            print(f"dry run: {len(preview.writes)} block write(s); nothing was written")
            gate = preview.gate or GateResult(Phase.ROLLOUT, False)
            print(_gate_line("rollout gate", gate))
        return 0
    _confirm(args, "cut over: uuid mode everywhere, blocks get their final content?")
    if args.progress_jsonl:
        return _jsonl(
            args,
            "cutover",
            "cutover",
            lambda env, progress: service.cutover(
                env, dry_run=False, batch_size=args.batch_size, progress=progress
            ),
        )
    with _env(args, "cutover") as env:
        out = service.cutover(env, dry_run=False, batch_size=args.batch_size, progress=_progress)
    code = _report_run(args, out, "cutover")
    if not args.json:
        print(
            "cutover complete: uuid mode everywhere, legacy detection off"
            if out.complete
            else "cutover incomplete: run it again to finish"
        )
    return code if out.complete else 1


def run_rollback(args: argparse.Namespace) -> int:
    if args.dry_run:
        _no_jsonl(args, "--dry-run")
        with _env(args, None) as env:
            preview = rb.rollback_preview(env, args.level, args.calendar_id)
            names = _names(env)
        if args.json:
            print_json({**preview.to_json(), "dry_run": True})
        else:
            print(preview.summary)
            writes = preview_writes(preview, names)
            for line in writes:
                flag = f"          CONFLICT: {line.conflict}" if line.conflict else ""
                print("\n".join(write_text(line) + ([flag] if flag else [])))
            for text in renewed_lines(writes):
                print(text)
            print("dry run: nothing was written")
        return 0
    _confirm(
        args,
        f"roll back at level {args.level}{' on ' + args.calendar_id if args.calendar_id else ''}?",
    )
    if args.progress_jsonl:
        return _jsonl(
            args,
            f"rollback {args.level}",
            f"rollback L{args.level}",
            lambda env, progress: migrate.rollback(
                env,
                args.level,
                args.calendar_id,
                force=args.force,
                progress=progress,
                why=args.why,
            ),
        )
    with _env(args, f"rollback {args.level}") as env:
        out = migrate.rollback(
            env, args.level, args.calendar_id, force=args.force, progress=_progress, why=args.why
        )
    if args.json:
        print_json(out.to_json())
    elif out.level == 1:
        print(
            f"level 1: {len(out.calendars)} calendar(s) back to legacy mode; nothing written to Google"
        )
    elif out.level == 2:
        print(
            f"level 2: {out.run.journal.done if out.run else 0} undone, {out.failed} failed, "
            f"{len(out.kept_conflicts)} conflict(s) kept"
        )
        for c in out.kept_conflicts:
            print(
                f"  kept {c['calendar']} {c['event_id']}: {c['conflict']} (use --force to undo it anyway)"
            )
    else:
        print(
            f"level 3: backup {out.backup}; dropped {out.dropped.get('event_states', 0)} correlation row(s)"
        )
    if out.level == 2 and (out.failed or not out.complete):
        return 1
    return 0


def run_status(args: argparse.Namespace) -> int:
    with _env(args, None) as env, env.store.session() as session:
        out = service.phase_overview(session, env.settings.rollout_clean_cycles)
        holder = lock_holder(env.home)
    if args.json:
        print_json(out.to_json())
        return 0
    paused = " (paused)" if out.paused else ""
    print(f"phase {out.phase} {out.phase_name}{paused}; rollout {out.rollout_percent}%")
    if out.interrupted is not None:
        if holder and str(holder.get("purpose", "")).startswith("migrate") and not out.paused:
            print(f"{out.interrupted.line(running=True)} (pid {holder.get('pid', '?')})")
        else:
            print(f"{out.interrupted.line()}: `migrate resume` continues it")
    now = out.current_gate  # the current phase's gate checked now, not as last recorded
    for name, g in out.gates.items():
        if now is None or name != Phase(now.phase).name.lower():
            print(_verdict(f"{name} gate", bool(g.get("passed")), g.get("reasons") or []))
    if now is not None:
        print(_gate_line(f"{Phase(now.phase).name.lower()} gate", now))
    print_table(["calendar", "mode"], [[c.calendar, c.engine_mode] for c in out.calendars])
    for a in out.alerts:
        print(f"ALERT {a['message']}")
    return 0
