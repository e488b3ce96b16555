"""The console's one door to the store, the engine and the migration core.

Screens call these blocking functions from thread workers only. The engine and the
migration core are imported lazily, so the console still opens (read-only views of the
store) when a part is missing or broken, and says so in one line instead of a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sqlmodel import Session

from calsync_tui.errors import CalsyncError
from calsync_tui.home import AppHome
from calsync_tui.screens import readmodel as rm

ProgressFn = Callable[[int, int], None]
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
        int(_get(est, "round_trips", default=0) or 0)
        if est
        else -(-writes // max(1, batch_size))
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

    def run_cycle(self, *, dry_run: bool, on_event: Callable[[object], None], cancel: CancelFn) -> Any:
        mod = _module("calsync_tui.engine.cycle", "the sync engine")
        fn = _call(mod, "run_cycle", "the sync engine")
        return fn(self.context(), dry_run=dry_run, on_event=on_event, cancel=cancel)

    def after_cycle(self, report: Any) -> list[str]:
        """Let the migration core auto-roll-back after a bad cycle; returns what it did."""
        try:
            mod = importlib.import_module("calsync_tui.migration")
        except ImportError:
            return []
        fn = getattr(mod, "check_auto_rollback", None)
        if not callable(fn):
            return []
        with self.session() as s:
            return list(fn(s, report) or [])

    # --- migration ----------------------------------------------------------------------------

    def _migration(self, name: str) -> Callable[..., Any]:
        return _call(_module("calsync_tui.migration", "the migration core"), name, "migration")

    def discover(self, on_event: Callable[[object], None], cancel: CancelFn) -> Any:
        return self._migration("discover")(self.context())

    def plan(self) -> PlanView:
        plan = self._migration("plan")(self.context())
        return plan_view(plan, self.context().settings.batch_size)

    def backfill(self, plan: PlanView, progress: ProgressFn, cancel: CancelFn) -> Any:
        return self._migration("backfill")(
            self.context(), plan.raw, progress=progress, cancel=cancel
        )

    def set_paused(self, paused: bool) -> None:
        self._migration("resume" if not paused else "pause")(self.context())

    def rollout(self, percent: int) -> Any:
        return self._migration("rollout")(self.context(), percent)

    def cutover(self, progress: ProgressFn, cancel: CancelFn) -> Any:
        return self._migration("cutover")(self.context(), progress=progress, cancel=cancel)

    # --- accounts -----------------------------------------------------------------------

    def sign_in(self, client_secrets: str | None) -> str:
        """Run the browser OAuth flow (blocking until the user finishes); returns the email."""
        fn = _call(_module("calsync_tui.google.accounts", "Google sign-in"), "login", "sign-in")
        result = fn(self.context(), client_secrets=client_secrets)
        return str(_get(result, "email", default=result))

    def sign_out(self, email: str) -> None:
        fn = _call(_module("calsync_tui.google.accounts", "Google sign-out"), "logout", "sign-out")
        fn(self.context(), email)

    def rollback_preview(self, level: int) -> list[str]:
        """What rollback `level` would do, as lines for the confirmation modal (a dry-run)."""
        fn = self._optional_migration("rollback_preview")
        if fn is not None:
            return preview_lines(fn(self.migration_env(), level))
        if level != 1:
            raise CalsyncError(f"rollback level {level} is not available in this build")
        with self.session() as s:
            cals = [c for c in rm.rollout_calendars(s) if c[1] != "legacy"]
        if not cals:
            return ["Every calendar is already in legacy mode: nothing to change."]
        return [f"  {name}: {mode} → legacy" for name, mode, _ in cals]

    def rollback(self, level: int, progress: ProgressFn, cancel: CancelFn) -> Any:
        fn = self._optional_migration("rollback")
        if fn is not None:
            return fn(self.migration_env(), level, progress=progress)
        if level != 1:
            raise CalsyncError(f"rollback level {level} is not available in this build")
        with self.session() as s:
            n = rm.set_all_modes(s, "legacy")
        return f"{n} calendar(s) back to legacy mode"

    def _optional_migration(self, name: str) -> Callable[..., Any] | None:
        try:
            mod = importlib.import_module("calsync_tui.migration.service")
        except ImportError:
            return None
        fn = getattr(mod, name, None)
        return fn if callable(fn) else None

    def migration_env(self) -> Any:
        raise CalsyncError("the migration core is not available in this build")


def preview_lines(preview: Any) -> list[str]:
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
    summary = _get(preview, "summary", "text", default=None)
    if summary:
        return str(summary).splitlines()
    if isinstance(preview, dict):
        return [f"{k}: {v}" for k, v in preview.items()]
    return [str(preview)]
