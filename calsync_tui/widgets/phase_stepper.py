"""The migration phase stepper 0–4 with each gate's state as it stands now.

Phases before the current one show the gate that let the migration leave them; the
current phase shows its gate checked now (`MigrationView.current_gate`), paused when a
paused or interrupted plan is what holds it; later phases show no mark (a gate passed
before a rollback took the migration back no longer stands).
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from calsync_tui.service.labels import PHASE_NAMES
from calsync_tui.service.readmodel import MigrationView
from calsync_tui.widgets.tone import tone

PAUSED_MARK = "⏸"


def _passed(gate: Any) -> bool | None:
    """A gate entry may be a bool, or a dict with `passed`/`ok`; None: no result yet."""
    if isinstance(gate, dict):
        ok = gate.get("passed", gate.get("ok"))
    else:
        ok = gate
    return ok if isinstance(ok, bool) else None


def _mark(ok: bool | None, dark: bool) -> str:
    if ok is True:
        return f"[{tone('green', dark)}]✔[/]"
    if ok is False:
        return f"[{tone('red', dark)}]✘[/]"
    return ""  # no gate result yet: no mark (a stray "·" read as a cell)


def _held_by_pause(view: MigrationView) -> bool:
    """The current gate fails only because a plan waits to be resumed (paused, or
    interrupted by a crash), not because a write failed."""
    gate = view.current_gate
    if gate is None or gate.passed:
        return False
    waiting = view.paused or (view.interrupted is not None and not view.interrupted.journal.failed)
    pending = int(gate.details.get("pending", 0) or 0)
    return waiting and pending > 0 and not gate.details.get("failed")


def _counting(details: dict[str, Any]) -> bool:
    """The rollout gate waits only for its clean cycles to run (none dirty, coverage and
    calendars fine): the stepper counts them instead of drawing a failure."""
    try:
        seen, need = int(details["cycles_seen"]), int(details["required_clean_cycles"])
        clean, coverage = int(details["clean_cycles"]), float(details["coverage"])
        rolled = int(details["rolled_out_calendars"])
    except (KeyError, TypeError, ValueError):
        return False
    # before the first cycle the engine has not re-read the stamps: coverage waits too
    return seen < need and clean == seen and rolled > 0 and (coverage >= 1.0 or seen == 0)


def stepper_text(view: MigrationView | None, dark: bool = True, running: bool = False) -> str:
    """The stepper as markup; `running`: a migration task is sending the current plan."""
    if view is None:
        return "[dim]migration: no store[/]"
    parts: list[str] = []
    for i, name in enumerate(PHASE_NAMES):
        mark = ""
        if i < view.phase:
            mark = _mark(_passed(view.gates.get(name, view.gates.get(str(i)))), dark)
        elif i == view.phase:
            if view.current_gate is not None and running and not view.current_gate.passed:
                mark = "…"
            elif view.current_gate is not None and _held_by_pause(view):
                mark = f"[{tone('yellow', dark)}]{PAUSED_MARK}[/]"
            elif view.current_gate is not None and _counting(view.current_gate.details):
                d = view.current_gate.details  # clean so far, waiting for more cycles
                seen, need = d["cycles_seen"], d["required_clean_cycles"]
                mark = f"[{tone('yellow', dark)}]{seen}/{need} cycles[/]"
            elif view.current_gate is not None:
                mark = _mark(view.current_gate.passed, dark)
            else:
                mark = _mark(_passed(view.gates.get(name, view.gates.get(str(i)))), dark)
        label = f"{i} {name}" + (f" {mark}" if mark else "")
        if i == view.phase:
            parts.append(f"[reverse b] {label} [/]")
        elif i < view.phase:
            parts.append(f"[{tone('green', dark)}]{label}[/]")
        else:
            parts.append(f"[dim]{label}[/]")
    modes = " ".join(f"{m}:{n}" for m, n in sorted(view.modes.items())) or "no calendars"
    flags = []
    if view.paused:
        flags.append(f"[{tone('yellow', dark)}]{PAUSED_MARK} paused[/]")
    if not view.legacy_detection:
        flags.append("legacy detection off")
    tail = f"rollout {view.rollout_percent}% · modes {modes}" + (
        " · " + " ".join(flags) if flags else ""
    )
    return " → ".join(parts) + "\n" + tail


class PhaseStepper(Static):
    _shown: str | None = None

    def show(self, view: MigrationView | None, running: bool = False) -> None:
        """Draw the stepper; the same text again is not redrawn (a redraw lays the screen
        out again)."""
        text = stepper_text(view, self.app.current_theme.dark, running)
        if text != self._shown:
            self._shown = text
            self.update(text)
