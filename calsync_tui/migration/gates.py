"""Gate checks, one per phase, as pure functions over plain numbers.

A gate says whether the migration may leave a phase; it returns reasons a person can act
on when it does not pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from calsync_tui.migration.phases import GateResult, Phase

SUCCESS_THRESHOLD = 0.995


def discover_gate(discovered: bool, events_seen: int) -> GateResult:
    """Leave discover once an inventory exists; running `prepare` is the user's review."""
    reasons = [] if discovered else ["no inventory yet: run `migrate discover` and review it"]
    return GateResult(Phase.DISCOVER, discovered, reasons, {"events_seen": events_seen})


def prepare_gate(legacy_blocks: int, linked: int, unlinked: int, ambiguous: int) -> GateResult:
    """Every legacy block is linked or listed as orphan/cascade/duplicate; none ambiguous."""
    reasons: list[str] = []
    unresolved = legacy_blocks - linked - unlinked
    if ambiguous:
        reasons.append(
            f"{ambiguous} legacy block(s) match several sources; see `migrate prepare --json` "
            "and delete or retitle them by hand"
        )
    elif unresolved:
        reasons.append(f"{unresolved} legacy block(s) neither linked nor listed")
    details = {
        "legacy_blocks": legacy_blocks,
        "linked": linked,
        "unlinked": unlinked,
        "ambiguous": ambiguous,
    }
    return GateResult(Phase.PREPARE, not reasons, reasons, details)


def backfill_gate(
    relevant: int, stamped: int, failed: int, pending: int, paused: bool = False
) -> GateResult:
    """Coverage 100% on the scope and no failed or unfinished mutation. A paused backfill
    has not failed: its reason says so (the stepper draws it paused)."""
    coverage = stamped / relevant if relevant else 1.0
    reasons: list[str] = []
    # a backfill that stopped part-way: its unsent writes are the coverage gap, said once
    waiting = pending > 0 and relevant - stamped <= pending + failed
    if coverage < 1.0 and not waiting:
        reasons.append(
            f"coverage {coverage:.2%} ({relevant - stamped} event(s) without calsync_id)"
        )
    if failed:
        reasons.append(f"{failed} failed mutation(s); run the backfill again to retry")
    if pending and paused:
        reasons.append(f"paused with {pending} unfinished mutation(s); resume continues it")
    elif pending:
        reasons.append(f"{pending} unfinished mutation(s); resume the backfill")
    details = {
        "relevant": relevant,
        "stamped": stamped,
        "coverage": coverage,
        "failed": failed,
        "pending": pending,
        "paused": paused,
    }
    return GateResult(Phase.BACKFILL, not reasons, reasons, details)


@dataclass(frozen=True)
class CycleMetrics:
    """What the rollout gate reads from one `SyncRun`."""

    cascades: int
    stuck: int
    success_rate: float
    failed: int = 0


def rollout_gate(
    cycles: Sequence[CycleMetrics], required: int, coverage: float, rolled_out: int
) -> GateResult:
    """The last `required` cycles are clean and rolled-out calendars are fully covered."""
    reasons: list[str] = []
    recent = list(cycles)[-required:] if required else []
    clean = [
        c
        for c in recent
        if c.cascades == 0 and c.stuck == 0 and c.success_rate >= SUCCESS_THRESHOLD
    ]
    if rolled_out == 0:
        reasons.append("no calendar is rolled out yet: run `migrate rollout --percent N`")
    if len(recent) < required:
        reasons.append(f"{len(recent)} of {required} sync cycle(s) run since rollout")
    elif len(clean) < required:
        bad = recent[len(recent) - 1]
        for c in recent:
            if c not in clean:
                bad = c
        reasons.append(
            f"{required - len(clean)} of the last {required} cycles not clean "
            f"(cascades {bad.cascades}, stuck {bad.stuck}, success {bad.success_rate:.2%})"
        )
    if coverage < 1.0:
        reasons.append(f"coverage on rolled-out calendars is {coverage:.2%}, needs 100%")
    details = {
        "required_clean_cycles": required,
        "cycles_seen": len(recent),
        "clean_cycles": len(clean),
        "coverage": coverage,
        "rolled_out_calendars": rolled_out,
    }
    return GateResult(Phase.ROLLOUT, not reasons, reasons, details)


def standing(recorded: Mapping[str, Any], phase: int) -> dict[str, Any]:
    """The recorded gates that still stand at `phase`: a gate is named after the phase it
    lets you leave, so those of later phases were passed before a rollback took the
    migration back and say nothing about now (they are kept in the history)."""
    later = {p.name.lower() for p in Phase if p > phase}
    return {name: g for name, g in recorded.items() if name not in later}
