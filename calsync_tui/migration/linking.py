"""Legacy linking: tie each legacy busy block to the source it mirrors, or say why not.

A legacy block on target T titled `<marker> Busy - X` mirrors a live source on another
enabled calendar with the same start/end and title X. Nothing is guessed: a block that
matches several sources is *ambiguous* and reported; one that matches none is an
*orphan*; one whose X is itself a legacy title is a *cascade* (a block of a block);
several blocks for one source on one target are *duplicates* (one is kept). A block
whose source moved or was retitled is linked as *out of date* when exactly one source
explains it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from calsync_tui.engine.classify import Classification, ClassifyContext, classify
from calsync_tui.engine.fields import private_props, time_key
from calsync_tui.engine.fields import title_of as title
from calsync_tui.engine.model import KEY_SOURCE, EngineMode, EventClass
from calsync_tui.google.types import GoogleEvent

LEGACY_SEPARATOR = "Busy - "
WRITABLE_ROLES = frozenset({"owner", "writer"})
SOURCE_ROLES = frozenset({"owner", "writer", "reader"})


@dataclass(frozen=True)
class CalendarView:
    """One enabled calendar with every event listed in the window."""

    google_id: str
    summary: str
    access_role: str
    events: Sequence[GoogleEvent]
    owners: frozenset[str] = frozenset()  # emails of the calendar's owner (declines count)

    @property
    def writable(self) -> bool:
        return self.access_role in WRITABLE_ROLES


@dataclass(frozen=True)
class EventRef:
    calendar: str
    event_id: str

    def to_json(self) -> dict[str, str]:
        return {"calendar": self.calendar, "event_id": self.event_id}


@dataclass
class Item:
    """An event seen on a calendar with its migration-relevant class."""

    calendar: str
    event: GoogleEvent
    cls: EventClass
    marker: str | None = None
    suffix: str | None = None
    info: Classification | None = None

    @property
    def cascade(self) -> bool:
        return bool(self.info and self.info.cascade)

    @property
    def correlation_id(self) -> str:
        """Source: its (instance) correlation id; block: its own id ("" if none)."""
        return (self.info.correlation_id if self.info else None) or ""

    @property
    def source_key(self) -> str:
        """Busy block: the `calsync_source` it names."""
        return (self.info.source_correlation_id if self.info else None) or ""

    @cached_property
    def ref(self) -> EventRef:
        return EventRef(self.calendar, str(self.event.get("id", "")))

    @cached_property
    def times(self) -> tuple[str, str]:
        """Normalised (start, end), computed once: linking compares it many times."""
        return time_key(self.event)


def parse_legacy_title(summary: str, markers: Iterable[str]) -> tuple[str, str] | None:
    """`(marker, suffix)` when `summary` is `<marker> Busy - <suffix>`, else None."""
    text = summary.strip()
    for marker in sorted(markers, key=len, reverse=True):
        if not marker or not text.startswith(marker):
            continue
        rest = text[len(marker) :].lstrip()
        if rest.startswith(LEGACY_SEPARATOR):
            return marker, rest[len(LEGACY_SEPARATOR) :]
    return None


def classify_item(
    calendar: str,
    event: GoogleEvent,
    *,
    markers: Sequence[str],
    installation_id: str,
    ignored_event_types: Sequence[str],
    legacy_detection: bool = True,
    owners: frozenset[str] = frozenset(),
) -> Item:
    """Class of one event, by the engine's classifier (hybrid mode: properties first,
    legacy titles as fallback; uuid mode once legacy detection is off)."""
    ctx = ClassifyContext(
        installation_id=installation_id,
        calendar_google_id=calendar,
        mode=EngineMode.HYBRID if legacy_detection else EngineMode.UUID,
        legacy_markers=tuple(markers),
        ignored_event_types=tuple(ignored_event_types),
        owner_emails=frozenset(o.lower() for o in owners),
    )
    c = classify(event, ctx)
    marker = None
    if c.event_class == EventClass.LEGACY_BUSY_BLOCK:
        text = title(event)
        marker = text[: text.find("Busy")].strip() or None
    return Item(calendar, event, c.event_class, marker, c.legacy_suffix, c)


@dataclass(frozen=True)
class Link:
    """A legacy block and the source it mirrors. `kind`: exact | moved | retitled."""

    block: EventRef
    source: EventRef
    kind: str = "exact"

    @property
    def out_of_date(self) -> bool:
        return self.kind != "exact"


@dataclass(frozen=True)
class Unlinked:
    """A legacy block that is not kept: duplicate, cascade or orphan (deleted by the plan)."""

    block: EventRef
    why: str  # duplicate | cascade | orphan
    detail: str = ""


@dataclass(frozen=True)
class Ambiguous:
    block: EventRef
    candidates: tuple[EventRef, ...]


@dataclass
class LinkReport:
    links: list[Link] = field(default_factory=list)
    unlinked: list[Unlinked] = field(default_factory=list)
    ambiguous: list[Ambiguous] = field(default_factory=list)

    def of_kind(self, why: str) -> list[Unlinked]:
        return [u for u in self.unlinked if u.why == why]

    @property
    def out_of_date(self) -> list[Link]:
        return [link for link in self.links if link.out_of_date]

    def to_json(self) -> dict[str, Any]:
        return {
            "links": [
                {"block": lk.block.to_json(), "source": lk.source.to_json(), "kind": lk.kind}
                for lk in self.links
            ],
            "unlinked": [
                {"block": u.block.to_json(), "why": u.why, "detail": u.detail}
                for u in self.unlinked
            ],
            "ambiguous": [
                {"block": a.block.to_json(), "candidates": [c.to_json() for c in a.candidates]}
                for a in self.ambiguous
            ],
        }


def source_items(items: Iterable[Item]) -> list[Item]:
    return [i for i in items if i.cls in (EventClass.NEW_USER_EVENT, EventClass.TRACKED_USER_EVENT)]


def link_legacy(
    items: Sequence[Item],
    stamped_pairs: set[tuple[EventRef, str]] | None = None,
    markers: Sequence[str] = (),
) -> LinkReport:
    """Link every legacy block to its source, or list it as cascade/orphan/duplicate/ambiguous.

    `stamped_pairs` holds (source, target calendar) pairs already covered by one of our
    stamped blocks: a legacy block for such a pair is a duplicate.
    """
    covered = stamped_pairs or set()
    report = LinkReport()
    sources = source_items(items)
    by_exact: dict[tuple[tuple[str, str], str], list[Item]] = defaultdict(list)
    by_title: dict[str, list[Item]] = defaultdict(list)
    by_time: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for s in sources:
        by_exact[(s.times, title(s.event))].append(s)
        by_title[title(s.event)].append(s)
        by_time[s.times].append(s)
    all_markers = {*markers, *(i.marker for i in items if i.marker)}
    blocks = sorted(
        (i for i in items if i.cls == EventClass.LEGACY_BUSY_BLOCK),
        key=lambda i: (i.calendar, str(i.event.get("id", ""))),
    )
    tentative: list[Link] = []
    pending: list[Item] = []
    for b in blocks:
        suffix = b.suffix or ""
        if b.cascade or parse_legacy_title(suffix, all_markers) is not None:
            report.unlinked.append(Unlinked(b.ref, "cascade", f"title {title(b.event)!r}"))
            continue
        cands = [s for s in by_exact[(b.times, suffix)] if s.calendar != b.calendar]
        if len(cands) == 1:
            tentative.append(Link(b.ref, cands[0].ref, "exact"))
        elif len(cands) > 1:
            report.ambiguous.append(Ambiguous(b.ref, tuple(c.ref for c in cands)))
        else:
            pending.append(b)
    # Out of date: first "moved" (same title, other times), then "retitled" (same times,
    # other title), each only to a source that has no better link on that calendar yet;
    # a block whose only explanation is already taken is an orphan, not a guess.
    linked_pairs = {(lk.source, lk.block.calendar) for lk in tentative}
    still: list[Item] = []
    for kind, index in (("moved", "title"), ("retitled", "time")):
        found: list[Link] = []
        for b in pending:

            def free(s: Item, b: Item = b, taken: set[tuple[EventRef, str]] = linked_pairs) -> bool:
                return s.calendar != b.calendar and (s.ref, b.calendar) not in taken

            pool = by_title[b.suffix or ""] if index == "title" else by_time[b.times]
            cands = [s for s in pool if free(s)]
            if len(cands) == 1:
                found.append(Link(b.ref, cands[0].ref, kind))
            elif len(cands) > 1:
                report.ambiguous.append(Ambiguous(b.ref, tuple(c.ref for c in cands)))
            else:
                still.append(b)
        tentative.extend(found)
        linked_pairs |= {(lk.source, lk.block.calendar) for lk in found}
        pending, still = still, []
    for b in pending:
        report.unlinked.append(Unlinked(b.ref, "orphan", f"no live source for {b.suffix or ''!r}"))
    groups: dict[tuple[EventRef, str], list[Link]] = defaultdict(list)
    for lk in tentative:
        groups[(lk.source, lk.block.calendar)].append(lk)
    rank = {"exact": 0, "moved": 1, "retitled": 2}
    created = {i.ref: str(i.event.get("created") or "") for i in blocks}
    for pair, links in sorted(
        groups.items(), key=lambda kv: (kv[0][1], kv[0][0].calendar, kv[0][0].event_id)
    ):
        # keep the best match, then the oldest block (the original), then a stable id
        links.sort(key=lambda lk: (rank[lk.kind], created[lk.block], lk.block.event_id))
        keep = [] if pair in covered else links[:1]
        report.links.extend(keep)
        for dup in links[len(keep) :]:
            report.unlinked.append(
                Unlinked(dup.block, "duplicate", f"another block mirrors {pair[0].event_id}")
            )
    return report


def block_source_key(item: Item) -> str | None:
    """`calsync_source` of one of our stamped blocks."""
    return private_props(item.event).get(KEY_SOURCE)
