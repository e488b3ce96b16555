"""The whole world as a JSON-able dict (dump) and back (load): `--state FILE`, test fixtures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from calsync_tui.sandbox.calendar import Calendar
from calsync_tui.sandbox.jsondata import clone
from calsync_tui.sandbox.state import World

FORMAT = 1


def dump(world: World) -> dict[str, Any]:
    with world.lock:
        return {
            "format": FORMAT,
            "seq": world.seq,
            "clockOffsetSeconds": world.clock_offset.total_seconds(),
            "users": [{"email": e, "token": t} for t, e in sorted(world.tokens.items())],
            "calendars": [
                {
                    "id": cal.id,
                    "summary": cal.summary,
                    "timeZone": cal.time_zone,
                    "owner": cal.owner,
                    "description": cal.description,
                    "acl": dict(cal.acl),
                    "generation": cal.generation,
                    "tombstones": sorted(cal.tombstones),
                    "personDeleted": sorted(cal.person_deleted),
                    "purgeFloor": cal.purge_floor,
                    "updated": cal.updated,
                    "events": [
                        {"seq": cal.seq[eid], "event": clone(ev)} for eid, ev in cal.events.items()
                    ],
                }
                for cal in world.calendars.values()
            ],
        }


def load(world: World, data: dict[str, Any]) -> None:
    """Replace the world with `data` (as made by `dump`)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a sandbox state (format {FORMAT} expected)")
    calendars: dict[str, Calendar] = {}
    for raw in data["calendars"]:
        cal = Calendar(
            id=raw["id"],
            summary=raw["summary"],
            time_zone=raw["timeZone"],
            owner=raw["owner"],
            description=raw.get("description", ""),
            acl=dict(raw["acl"]),
            generation=int(raw.get("generation", 0)),
            tombstones=set(raw.get("tombstones", ())),
            person_deleted=set(raw.get("personDeleted", ())),
            purge_floor=int(raw.get("purgeFloor", 0)),
        )
        for row in raw["events"]:
            cal.store(clone(row["event"]), int(row["seq"]))
        cal.updated = raw.get("updated", cal.updated)
        calendars[cal.id] = cal
    with world.lock:
        world.tokens = {u["token"]: u["email"] for u in data["users"]}
        world.calendars = calendars
        world.seq = max(int(data.get("seq", 0)), world.seq)
        world.clock_offset = timedelta(seconds=float(data.get("clockOffsetSeconds", 0.0)))
