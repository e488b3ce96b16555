"""One calendar's data: events as stored, change sequence numbers, ACL, cached bounds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from calsync_tui.sandbox import recurrence
from calsync_tui.sandbox.times import edge

# accessRole values calendarList may report; "none" and any unknown future value rank 0
# (the discovery document lists none, freeBusyReader, reader, writer, owner).
ROLE_RANK = {"none": 0, "freeBusyReader": 1, "reader": 2, "writer": 3, "owner": 4}
CANCELLED_INSTANCE_FIELDS = (
    "kind",
    "etag",
    "id",
    "status",
    "recurringEventId",
    "originalStartTime",
)


@dataclass
class Calendar:
    """Stored events are never mutated in place (copy on write), so readers may share them."""

    id: str
    summary: str
    time_zone: str
    owner: str
    description: str = ""
    acl: dict[str, str] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)
    exceptions: dict[str, set[str]] = field(default_factory=dict)  # master id -> exception ids
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)  # plain events only
    # Ids once used stay taken after the trash is purged (insert: 409 duplicate; get: 404).
    tombstones: set[str] = field(default_factory=set)
    # Ids the person deleted in the web UI: they cannot be revived through the API (403).
    person_deleted: set[str] = field(default_factory=set)
    # Change sequence of the newest purged event: older sync tokens cannot report it (410).
    purge_floor: int = 0
    generation: int = 0  # bumped to expire every sync token of this calendar
    version: int = 0  # bumped on every change (list cache key)
    updated: str = ""

    def store(self, event: dict[str, Any], seq: int) -> None:
        eid = event["id"]
        self.events[eid] = event
        self.seq[eid] = seq
        self.version += 1
        self.updated = str(event.get("updated", self.updated))
        master = event.get("recurringEventId")
        if master and "_full" in event:
            self.exceptions.setdefault(master, set()).add(eid)
            self.bounds.pop(eid, None)
        elif event.get("recurrence"):
            self.bounds.pop(eid, None)
        else:
            s = edge(event["start"], self.time_zone, field_name="start").timestamp()
            e = edge(event["end"], self.time_zone, field_name="end").timestamp()
            self.bounds[eid] = (s, e)

    def purge(self) -> list[str]:
        """Empty the trash: deleted events (and a deleted series' exceptions) are gone for
        good; their ids stay taken (`tombstones`). Returns the purged ids."""
        purged: list[str] = []
        for eid, ev in list(self.events.items()):
            if ev.get("status") != "cancelled" or self.is_exception(ev):
                continue
            for xid in sorted(self.exceptions.pop(eid, set())):
                purged.append(xid)
            purged.append(eid)
        for eid in purged:
            self.purge_floor = max(self.purge_floor, self.seq.get(eid, 0))
            self.events.pop(eid, None)
            self.seq.pop(eid, None)
            self.bounds.pop(eid, None)
            self.tombstones.add(eid)
        if purged:
            self.version += 1
        return purged

    def is_exception(self, event: dict[str, Any]) -> bool:
        return "_full" in event

    def render(self, event: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
        """The event as the API shows it (exceptions merged with their series)."""
        if self.is_exception(event):
            master = self.events.get(event["recurringEventId"])
            return self.render_exception(master, event, full=full)
        return public(event)

    def render_exception(
        self, master: dict[str, Any] | None, exc: dict[str, Any], *, full: bool = False
    ) -> dict[str, Any]:
        """Series instance overlaid with the exception's own fields; cancelled ones minimal
        unless `full`."""
        cancelled = (
            master is None
            or master.get("status") == "cancelled"
            or exc.get("status") == "cancelled"
        )
        if cancelled and (not full or master is None):
            return cancelled_instance(exc)
        assert master is not None
        if exc["_full"]:
            return public(exc)
        occ = recurrence.original_key(exc["originalStartTime"], self.time_zone)
        inst = recurrence.make_instance(master, occ, self.time_zone) if occ else public(master)
        for key, value in exc.items():
            if not key.startswith("_"):
                inst[key] = value
        for key in exc.get("_removed", ()):
            inst.pop(key, None)
        if cancelled:
            inst["status"] = "cancelled"
        return inst

    def instance(
        self, master: dict[str, Any], occ: datetime, *, full: bool = False
    ) -> dict[str, Any]:
        """Generated instance at `occ`, or its stored exception."""
        iid = recurrence.instance_id(master["id"], occ, occ.tzinfo is None)
        exc = self.events.get(iid)
        if exc is not None and self.is_exception(exc):
            return self.render_exception(master, exc, full=full)
        inst = recurrence.make_instance(master, occ, self.time_zone)
        if master.get("status") == "cancelled":
            if not full:
                return cancelled_instance(inst)
            inst["status"] = "cancelled"
        return inst


def public(event: dict[str, Any]) -> dict[str, Any]:
    """The event without the sandbox's own `_` keys. Only stored exceptions carry any
    (`_full`, `_removed`); other events are returned as is: stored events are never
    mutated in place, so sharing them is safe and saves a copy per listed event."""
    if "_full" not in event:
        return event
    return {k: v for k, v in event.items() if not k.startswith("_")}


def cancelled_instance(event: dict[str, Any]) -> dict[str, Any]:
    """What Google sends for a cancelled instance: little more than its identity."""
    out = {k: event[k] for k in CANCELLED_INSTANCE_FIELDS if k in event}
    out["status"] = "cancelled"
    return out


def role_at_least(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK.get(role, 0) >= ROLE_RANK[needed]
