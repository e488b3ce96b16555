"""The console's one door to the store, the engine and the migration core.

Screens call these blocking functions from thread workers only. The engine and the
migration core are imported lazily, so the console still opens (read-only views of the
store) when a part is missing or broken, and says so in one line instead of a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sqlmodel import Session

from calsync_tui.errors import CalsyncError
from calsync_tui.home import AppHome
from calsync_tui.screens import readmodel as rm

ProgressFn = Callable[[int, int, int], None]  # done, total, failed
MAX_STEPS = 12
CancelFn = Callable[[], bool]


def _module(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise CalsyncError(f"{what} is not available in this build ({exc})") from None


def _call(mod: ModuleType, name: str, what: str) -> Callable[..., Any]:
    fn = getattr(mod, name, None)
    if not callable(fn):
        raise CalsyncError(f"{what} is not available in this build ({mod.__name__}.{name})")
    return fn  # type: ignore[no-any-return]


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
    raw: Any = None
    totals: dict[str, Counter[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.totals:
            for line in self.lines:
                self.totals.setdefault(line.calendar, Counter())[line.op] += 1


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


def plan_view(plan: Any, batch_size: int = 50, names: dict[str, str] | None = None) -> PlanView:
    """Read a migration/engine plan object or its JSON dict into a `PlanView`.

    `names` maps calendar Google ids to the summaries the reviewer knows them by.
    """
    names = names or {}
    muts = _get(plan, "writes", "mutations", default=[]) or []
    lines: list[PlanLine] = []
    for i, m in enumerate(muts):
        cal = _get(m, "calendar_summary", "calendar_name", "calendar", "calendar_google_id")
        if not isinstance(cal, str):
            cal = _get(cal, "summary", "google_id", default=str(cal))
        cal = names.get(str(cal), str(cal))
        body = _get(m, "body", "after", default=None) or {}
        before = _get(m, "before", default=None) or {}
        title = str(
            (body.get("summary") if isinstance(body, dict) else None)
            or (before.get("summary") if isinstance(before, dict) else None)
            or ""
        )
        op = _get(m, "op", default="?")
        lines.append(
            PlanLine(
                seq=int(_get(m, "seq", default=i) or i),
                calendar=str(cal),
                op=str(getattr(op, "value", op)),
                google_event_id=str(_get(m, "google_event_id", "event_id", default="")),
                correlation_id=_get(m, "correlation_id", default=None),
                reason=str(_get(m, "reason", default="")),
                title=title,
            )
        )
    writes = len(lines)
    est = _get(plan, "estimate", "api_estimate", default=None)
    calls = int(_get(est, "units", "calls", "writes", default=writes) or writes) if est else writes
    trips = (
        int(_get(est, "round_trips", default=0) or 0) if est else -(-writes // max(1, batch_size))
    )
    return PlanView(
        plan_id=str(_get(plan, "plan_id", "id", default="?")),
        lines=lines,
        api_calls=calls,
        round_trips=trips,
        raw=plan,
    )


class Backend:
    """Owns the store handle for one home; every method is blocking (run it in a worker)."""

    def __init__(self, home: AppHome, api_endpoint: str | None) -> None:
        self.home = home
        self.api_endpoint = api_endpoint
        self._store: Any = None
        self._ctx: Any = None
        # googleapiclient/httplib2 are not thread-safe: one Google-using job at a time.
        self.google = threading.RLock()

    # --- store ---------------------------------------------------------------------------

    def open(self) -> None:
        """Open (create/upgrade) the store; raises a one-line error if it cannot be used."""
        self._store = self.context().store

    @property
    def is_open(self) -> bool:
        return self._store is not None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        if self._store is None:
            raise CalsyncError("the local store is not open")
        with self._store.session() as s:
            yield s

    def close(self) -> None:
        if self._ctx is not None:
            with contextlib.suppress(Exception):
                self._ctx.close()
        self._ctx = None
        self._store = None

    # --- engine ----------------------------------------------------------------------------

    def context(self) -> Any:
        """The `AppContext` the engine and migration core take (built once, lazily)."""
        if self._ctx is None:
            from calsync_tui.context import AppContext

            args = argparse.Namespace(home=str(self.home.root), api_endpoint=self.api_endpoint)
            self._ctx = AppContext.from_args(args)
        return self._ctx

    def run_cycle(
        self, *, dry_run: bool, on_event: Callable[[object], None], cancel: CancelFn
    ) -> Any:
        fn = _call(_module("calsync_tui.engine.cycle", "the sync engine"), "run_cycle", "sync")
        with self.google:
            return fn(self.context(), dry_run=dry_run, on_event=on_event, cancel=cancel)

    def after_cycle(self, report: Any) -> list[str]:
        """Auto-rollback (level 1) after a bad cycle during rollout; returns what it did."""
        fn = self._optional("calsync_tui.migration.rollback", "check_auto_rollback")
        if fn is None or report is None or getattr(report, "dry_run", False):
            return []
        limit = self.context().settings.auto_rollback_error_rate
        with self.session() as s:
            return list(fn(s, report, limit) or [])

    # --- migration ----------------------------------------------------------------------------

    def _optional(self, module: str, name: str) -> Callable[..., Any] | None:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            return None
        fn = getattr(mod, name, None)
        return fn if callable(fn) else None

    def _service(self, name: str) -> Callable[..., Any]:
        return _call(_module("calsync_tui.migration.service", "the migration core"), name, name)

    def migration_env(self) -> Any:
        from calsync_tui.migration.env import MigrationEnv

        ctx = self.context()
        return MigrationEnv(ctx.home, ctx.store, ctx.settings, ctx.installation_id, ctx.gateway_for)

    def _names(self) -> dict[str, str]:
        with self.session() as s:
            return {c.google_id: c.summary for c in rm.calendar_rows(s)}

    def discover(self, progress: ProgressFn, cancel: CancelFn) -> str:
        with self.google:
            report = self._service("discover")(self.migration_env())
        totals = {k: v for k, v in (report.get("totals") or {}).items() if v}
        seen = report.get("events_seen", sum(totals.values()))
        parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(totals.items()))
        return f"inventory: {seen} events ({parts})"

    def plan(self) -> PlanView:
        """Dry-run: compute the backfill plan (after `prepare` if still in phase 0), save it."""
        env = self.migration_env()
        with self.session() as s:
            phase = rm.migration_view(s).phase
        with self.google:
            if phase == 0:
                self._service("prepare")(env)
            plan, _ = self._service("make_plan")(env)
        path = self._service("default_plan_path")(env, plan)
        from calsync_tui.migration.plan_file import write_plan

        write_plan(plan, path)
        view = plan_view(plan, self.context().settings.batch_size, self._names())
        view.raw = path
        return view

    def backfill(self, plan: PlanView, progress: ProgressFn, cancel: CancelFn) -> Any:
        with self.google:
            return self._service("backfill")(
                self.migration_env(), plan.raw, progress=_adapt(progress)
            )

    def set_paused(self, paused: bool) -> None:
        self._service("set_paused")(self.migration_env(), paused)

    def resume(self, progress: ProgressFn, cancel: CancelFn) -> Any:
        with self.google:
            return self._service("resume")(self.migration_env(), progress=_adapt(progress))

    def rollout(self, percent: int) -> Any:
        return self._service("rollout")(self.migration_env(), percent)

    def cutover_preview(self) -> list[str]:
        with self.google:
            return preview_lines(self._service("cutover")(self.migration_env(), dry_run=True))

    def cutover(self, progress: ProgressFn, cancel: CancelFn) -> Any:
        with self.google:
            return self._service("cutover")(
                self.migration_env(), dry_run=False, progress=_adapt(progress)
            )

    # --- accounts -----------------------------------------------------------------------

    def sign_in(self, client_secrets: str | None) -> str:
        """Run the browser OAuth flow (blocking until the user finishes); returns the email."""
        mod = _module("calsync_tui.google.accounts", "Google sign-in")
        ctx = self.context()
        from pathlib import Path

        path = Path(client_secrets) if client_secrets else None
        return str(_call(mod, "sign_in", "sign-in")(ctx.home, ctx.store, ctx.settings, path))

    def sign_out(self, email: str) -> None:
        mod = _module("calsync_tui.google.accounts", "Google sign-out")
        ctx = self.context()
        _call(mod, "logout", "sign-out")(ctx.home, ctx.store, email, settings=ctx.settings)

    # --- rollback ----------------------------------------------------------------------------

    def rollback_preview(self, level: int) -> list[str]:
        """What rollback `level` would do, as lines for the confirmation modal (a dry-run)."""
        fn = self._optional("calsync_tui.migration.rollback", "rollback_preview")
        if fn is not None:
            with self.google:
                return preview_lines(fn(self.migration_env(), level), self._names())
        if level != 1:
            raise CalsyncError(f"rollback level {level} is not available in this build")
        with self.session() as s:
            cals = [c for c in rm.rollout_calendars(s) if c[1] != "legacy"]
        if not cals:
            return ["Every calendar is already in legacy mode: nothing to change."]
        return [f"  {name}: {mode} → legacy" for name, mode, _ in cals]

    def rollback(self, level: int, progress: ProgressFn, cancel: CancelFn) -> Any:
        mod = "calsync_tui.migration.rollback"
        if level == 1:
            fn = self._optional(mod, "level1")
            with self.session() as s:
                if fn is not None:
                    changed = fn(s, None, "rollback level 1 from the console")
                    s.commit()
                    return f"{len(changed)} calendar(s) back to legacy mode"
                return f"{rm.set_all_modes(s, 'legacy')} calendar(s) back to legacy mode"
        if level == 2:
            fn2 = _call(_module(mod, "rollback"), "level2", "rollback level 2")
            with self.google:
                return fn2(self.migration_env(), None, progress=_adapt(progress))
        fn3 = _call(_module(mod, "rollback"), "level3", "rollback level 3")
        return fn3(self.migration_env(), None)


def _adapt(progress: ProgressFn) -> Callable[[Any], None]:
    """The migration core reports `Progress(done, total, failed, ...)`; the cockpit takes ints."""

    def cb(p: Any) -> None:
        progress(
            int(_get(p, "done", default=0)),
            int(_get(p, "total", default=0)),
            int(_get(p, "failed", default=0)),
        )

    return cb


def preview_lines(preview: Any, names: dict[str, str] | None = None) -> list[str]:
    """Turn a rollback preview (text, list, dict or object with `lines`/`summary`) into lines."""
    if preview is None:
        return []
    if isinstance(preview, str):
        return preview.splitlines()
    if isinstance(preview, list | tuple):
        return [str(p) for p in preview]
    lines = _get(preview, "lines", default=None)
    if lines:
        return [str(x) for x in lines]
    out: list[str] = []
    summary = _get(preview, "summary", "text", default=None)
    if isinstance(summary, str):
        out += summary.splitlines()
    names = names or {}
    for cal in _get(preview, "calendars", default=None) or []:
        out.append(
            f"  {names.get(str(cal), str(cal))} ({cal})" if str(cal) in names else f"  {cal}"
        )
    steps = _get(preview, "steps", default=None) or []
    for step in steps[:MAX_STEPS]:
        conflict = _get(step, "conflict", default=None)
        out.append(
            f"  {_get(step, 'action', default='?')} {_get(step, 'calendar', default='')} "
            f"{_get(step, 'event_id', default='')}"
            + (f"  [conflict: {conflict}]" if conflict else "")
        )
    if len(steps) > MAX_STEPS:
        out.append(f"  … and {len(steps) - MAX_STEPS} more")
    if out:
        return out
    if isinstance(preview, dict):
        return [f"{k}: {v}" for k, v in preview.items() if not isinstance(v, list | dict)]
    return [str(preview)]
