"""The migration phase stepper 0–4 with each gate's state."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from calsync_tui.service.labels import PHASE_NAMES
from calsync_tui.service.readmodel import MigrationView
from calsync_tui.widgets.tone import tone


def _gate_mark(gate: Any) -> str:
    """A gate entry may be a bool, or a dict with `passed`/`ok` and a `reason`."""
    if isinstance(gate, dict):
        ok = gate.get("passed", gate.get("ok"))
    else:
        ok = gate
    if ok is True:
        return "[green]✔[/]"
    if ok is False:
        return "[red]✘[/]"
    return "[dim]·[/]"


def stepper_text(view: MigrationView | None, dark: bool = True) -> str:
    if view is None:
        return "[dim]migration: no store[/]"
    parts: list[str] = []
    for i, name in enumerate(PHASE_NAMES):
        gate = view.gates.get(name, view.gates.get(str(i)))
        label = f"{i} {name} {_gate_mark(gate)}"
        if i == view.phase:
            parts.append(f"[reverse b] {label} [/]")
        elif i < view.phase:
            parts.append(f"[{tone('green', dark)}]{label}[/]")
        else:
            parts.append(f"[dim]{label}[/]")
    modes = " ".join(f"{m}:{n}" for m, n in sorted(view.modes.items())) or "no calendars"
    flags = []
    if view.paused:
        flags.append(f"[{tone('yellow', dark)}]paused[/]")
    if not view.legacy_detection:
        flags.append("legacy detection off")
    tail = f"  rollout {view.rollout_percent}%  modes {modes}" + (
        "  " + " ".join(flags) if flags else ""
    )
    return "Phase  " + " → ".join(parts) + "\n" + tail


class PhaseStepper(Static):
    def show(self, view: MigrationView | None) -> None:
        self.update(stepper_text(view, self.app.current_theme.dark))
