"""Messages the background workers post to the UI (thread-safe via `post_message`).

Workers never touch widgets; they describe what happened and the screens redraw.
"""

from __future__ import annotations

from textual.message import Message


class EngineEvent(Message):
    """One progress event from the engine cycle (an `engine.events` dataclass or a dict)."""

    def __init__(self, event: object) -> None:
        super().__init__()
        self.event = event


class CycleFinished(Message):
    """A sync cycle (or dry-run) ended; `summary` is one line for the user."""

    def __init__(
        self,
        summary: str,
        *,
        dry_run: bool,
        ok: bool = True,
        detail: str = "",
        classes: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.classes = classes or {}  # events seen per class (legacy_busy_block, …)
        self.summary = summary
        self.detail = detail  # the full one-line report (counts per op, API calls)
        self.dry_run = dry_run
        self.ok = ok


class TaskProgress(Message):
    """Progress of a long migration task (backfill, cutover, rollback)."""

    def __init__(
        self, task: str, done: int, total: int, rate: float, eta_s: float | None, failed: int = 0
    ) -> None:
        super().__init__()
        self.task = task
        self.failed = failed
        self.done = done
        self.total = total
        self.rate = rate
        self.eta_s = eta_s


class TaskFinished(Message):
    """A long migration task ended (or failed: `ok` False and `summary` says why)."""

    def __init__(self, task: str, summary: str, *, ok: bool = True) -> None:
        super().__init__()
        self.task = task
        self.summary = summary
        self.ok = ok


class PlanReady(Message):
    """A plan was computed (dry-run); the cockpit shows it for review."""

    def __init__(self, plan: object) -> None:
        super().__init__()
        self.plan = plan


class DataChanged(Message):
    """The store changed in a way every visible screen should re-read."""
