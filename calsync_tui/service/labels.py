"""The words both faces show for the domain's names: event classes, link findings, phases.

One table each; the CLI's tables, the dashboard, the migration screen and the phase
stepper all render from here, so a label changes in one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from calsync_tui.engine.model import EventClass
from calsync_tui.migration.phases import Phase, phase_name


@dataclass(frozen=True)
class Label:
    """A domain name, the word a person reads for it, and a short form for narrow tables."""

    key: str
    label: str
    short: str


# Event classes in display order: sources, our blocks, what we leave alone, problems.
CLASS_LABELS: tuple[Label, ...] = (
    Label(EventClass.NEW_USER_EVENT.value, "user", "user"),
    Label(EventClass.TRACKED_USER_EVENT.value, "tracked", "trk"),
    Label(EventClass.BUSY_BLOCK.value, "blocks", "blk"),
    Label(EventClass.LEGACY_BUSY_BLOCK.value, "legacy", "lgcy"),
    Label(EventClass.EXTERNAL_CALSYNC.value, "external", "ext"),
    Label(EventClass.ORPHANED_BLOCK.value, "orphaned", "orph"),
    Label(EventClass.IGNORED.value, "ignored", "ign"),
    Label(EventClass.ERROR.value, "error", "err"),
)

# What discover/prepare find about legacy blocks besides their class (linking.py's counts).
FINDING_LABELS: tuple[Label, ...] = (
    Label("duplicates", "duplicates", "dup"),
    Label("cascades", "cascades", "casc"),
    Label("orphans", "orphans", "orphan"),
    Label("out_of_date", "out of date", "stale"),
    Label("ambiguous", "ambiguous", "ambig"),
)

# The migration's phases by number (`migration.phases.Phase`), as both faces name them.
PHASE_NAMES: tuple[str, ...] = tuple(phase_name(p) for p in Phase)


def class_label(event_class: str) -> str:
    """The word for one event class (the raw name when it is not a known class)."""
    for item in CLASS_LABELS:
        if item.key == event_class:
            return item.label
    return event_class


__all__ = ["CLASS_LABELS", "FINDING_LABELS", "PHASE_NAMES", "Label", "class_label", "phase_name"]
