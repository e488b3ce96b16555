"""The migration phase machine: phases are state in `MigrationState`, not scripts.

Each forward transition needs its gate passed; the gate result is recorded in
`gates_json` and every transition (and rollback) is appended to `history_json`, so the
migration survives restarts and can explain itself.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any

from sqlmodel import Session

from calsync_tui import clock
from calsync_tui.errors import CalsyncError
from local_store.models import MigrationState


class Phase(IntEnum):
    DISCOVER = 0
    PREPARE = 1
    BACKFILL = 2
    ROLLOUT = 3
    CUTOVER = 4

    @property
    def label(self) -> str:
        return f"{int(self)} {self.name.lower()}"


def phase_name(phase: int) -> str:
    """The name of phase `phase` (`backfill`), or `unknown(N)` outside 0-4. The one
    definition: `service.labels` renders it for both faces."""
    return Phase(phase).name.lower() if phase in Phase._value2member_map_ else f"unknown({phase})"


@dataclass
class GateResult:
    """Outcome of one gate check: the gate is named after the phase it lets you leave."""

    phase: int
    passed: bool
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    checked_at: str = ""

    def __post_init__(self) -> None:
        if not self.checked_at:
            self.checked_at = now_text()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def now_text() -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def load_state(session: Session) -> MigrationState:
    """The singleton row, created at phase 0 the first time."""
    state = session.get(MigrationState, 1)
    if state is None:
        state = MigrationState(id=1)
        session.add(state)
        session.flush()
    return state


def gates(state: MigrationState) -> dict[str, Any]:
    value = json.loads(state.gates_json or "{}")
    return value if isinstance(value, dict) else {}


def history(state: MigrationState) -> list[dict[str, Any]]:
    value = json.loads(state.history_json or "[]")
    return value if isinstance(value, list) else []


def record_gate(state: MigrationState, result: GateResult) -> None:
    g = gates(state)
    g[Phase(result.phase).name.lower()] = result.to_json()
    state.gates_json = json.dumps(g, sort_keys=True)
    state.updated_at = clock.now()


def record_event(state: MigrationState, event: str, **detail: Any) -> None:
    """Append one line to the history (transitions, plans, pauses, rollbacks)."""
    h = history(state)
    h.append({"at": now_text(), "event": event, "phase": state.phase, **detail})
    state.history_json = json.dumps(h, ensure_ascii=False, default=str)
    state.updated_at = clock.now()


def advance(state: MigrationState, target: Phase, gate: GateResult) -> None:
    """Move forward one phase if `gate` (the current phase's gate) passed; else refuse.

    Staying in (or re-entering) the current phase is allowed and only records the gate.
    """
    current = Phase(state.phase)
    record_gate(state, gate)
    if target <= current:
        return
    if target != current + 1:
        raise CalsyncError(
            f"cannot go from phase {current.label} to {target.label}: phases advance one at a time"
        )
    if not gate.passed:
        why = "; ".join(gate.reasons) or "gate not passed"
        record_event(state, "gate_failed", target=int(target), reasons=gate.reasons)
        raise CalsyncError(f"gate of phase {current.label} not passed: {why}")
    state.phase = int(target)
    record_event(state, "advance", from_phase=int(current), to_phase=int(target))


# The command that moves the migration into each phase: an error names the next one to run.
NEXT_STEP = {
    Phase.PREPARE: "calsync-tui migrate prepare",
    Phase.BACKFILL: "calsync-tui migrate plan --out FILE` then `calsync-tui migrate backfill "
    "--plan FILE --yes",
    Phase.ROLLOUT: "calsync-tui migrate rollout --percent N",
    Phase.CUTOVER: "calsync-tui migrate cutover",
}


def require_phase(state: MigrationState, minimum: Phase, command: str) -> None:
    """Refuse a command run too early, in one line that names the step to run next."""
    current = Phase(state.phase)
    if current < minimum:
        step = NEXT_STEP[Phase(current + 1)]
        raise CalsyncError(
            f"`migrate {command}` needs phase {minimum.label}; the migration is at phase "
            f"{current.label}: run `{step}` first"
        )


def set_phase_back(state: MigrationState, target: Phase, why: str) -> None:
    """Rollbacks move the phase back; recorded in the history like any transition."""
    if target < state.phase:
        record_event(state, "phase_back", from_phase=state.phase, to_phase=int(target), why=why)
        state.phase = int(target)
