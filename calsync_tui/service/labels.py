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
    """A domain name, the word a person reads for it in counts and tables (`label`), a
    short form for narrow tables, and the name of one such thing in a list or a
    sentence (`long`: the events list, lineage, the CLI)."""

    key: str
    label: str
    short: str
    long: str = ""

    @property
    def one(self) -> str:
        return self.long or self.label


# Event classes in display order: sources, our blocks, what we leave alone, problems.
# One vocabulary for a person's events (DESIGN "user event"): a *new* user event is not
# correlated yet, a *tracked* one carries our id; tables count them as "new" and
# "tracked", lists name each "new user event" / "tracked user event".
CLASS_LABELS: tuple[Label, ...] = (
    Label(EventClass.NEW_USER_EVENT.value, "new", "new", "new user event"),
    Label(EventClass.TRACKED_USER_EVENT.value, "tracked", "trk", "tracked user event"),
    Label(EventClass.BUSY_BLOCK.value, "blocks", "blk", "busy block"),
    Label(EventClass.LEGACY_BUSY_BLOCK.value, "legacy", "lgcy", "legacy busy block"),
    Label(EventClass.EXTERNAL_CALSYNC.value, "external", "ext", "external calsync"),
    Label(EventClass.ORPHANED_BLOCK.value, "orphaned", "orph", "orphaned block"),
    Label(EventClass.IGNORED.value, "ignored", "ign", "ignored"),
    Label(EventClass.ERROR.value, "error", "err", "error"),
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
    """The word for one event class in counts (the raw name when it is not a known class)."""
    for item in CLASS_LABELS:
        if item.key == event_class:
            return item.label
    return event_class


def class_name(event_class: str) -> str:
    """One event of a class as lists name it: `tracked user event`, `legacy busy block`
    (the raw name when it is not a known class)."""
    for item in CLASS_LABELS:
        if item.key == event_class:
            return item.one
    return event_class


__all__ = [
    "CLASS_LABELS",
    "FINDING_LABELS",
    "PHASE_NAMES",
    "Label",
    "class_label",
    "class_name",
    "phase_name",
]
