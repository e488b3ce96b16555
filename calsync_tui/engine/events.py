"""Engine event stream: what a cycle reports while it runs.

Plain dataclasses handed to an `on_event` callback; the TUI wraps each one in a Textual
message (`messages.EngineEvent`) and the CLI may print them. The engine never imports UI.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from calsync_tui.engine.report import CycleReport


@dataclass(frozen=True)
class CycleStarted:
    dry_run: bool
    calendars: int


@dataclass(frozen=True)
class CalendarRead:
    calendar: str  # Google calendar id
    events: int  # events returned by the listing (changes, or all on a full listing)
    full: bool
    error: str | None = None


@dataclass(frozen=True)
class PlanReady:
    plan_id: str
    mutations: int
    by_op: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MutationsProgress:
    done: int
    total: int


@dataclass(frozen=True)
class AlertRaised:
    kind: str
    message: str
    level: str = "warning"


@dataclass(frozen=True)
class CycleDone:
    report: CycleReport


EngineEvent = CycleStarted | CalendarRead | PlanReady | MutationsProgress | AlertRaised | CycleDone
EventSink = Callable[[Any], None]


def emit(sink: EventSink | None, event: Any) -> None:
    """Hand an event to the subscriber; a failing subscriber never breaks a cycle."""
    if sink is None:
        return
    # UI problems must not abort Google writes midway.
    with contextlib.suppress(Exception):
        sink(event)
