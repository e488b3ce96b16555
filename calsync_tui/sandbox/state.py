"""The sandbox's world: users, calendars, ACLs, events, sync tokens, etags. One lock.

Every API operation takes the acting user's email (`None` = a person in Google's UI or
the test harness: no ACL check, same validation). Errors are `ApiError` with Google's
status and reason.
"""

from __future__ import annotations

import threading
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from calsync_tui.sandbox import recurrence
from calsync_tui.sandbox.calendar import Calendar, public, role_at_least
from calsync_tui.sandbox.errors import ApiError, forbidden, invalid, not_found
from calsync_tui.sandbox.jsondata import clone
from calsync_tui.sandbox.times import edge, format_utc, now_utc, zone
from calsync_tui.sandbox.validate import check_event, check_id

ROLES = ("owner", "writer", "reader", "freeBusyReader")
# calendarList may also report these (discovery document: accessRole "none"); an unknown
# future value is accepted with `share(..., allow_unknown=True)`. Neither reads events.
OTHER_ROLES = ("none",)
# What an attendee may change on an invitation whose organizer is outside the account and
# that has guestsCanModify false: their own answer and their reminders. Anything else
# (summary, times, transparency, extendedProperties.private, ...) is refused with 403
# forbiddenForNonOrganizer (kewisch/gdata-provider#3 and #728: patching an invitation's
# properties was refused; Google's rules for non-organized events were tightened in 2026,
# OGCS#2277). Stricter than some reports (private properties are said to be per copy):
# when in doubt, stricter.
ATTENDEE_MAY_CHANGE = frozenset({"attendees", "reminders"})
SERVER_OWNED = frozenset(
    {"etag", "updated", "sequence", "kind", "htmlLink", "created", "creator", "organizer", "id"}
)


def writer_needed() -> ApiError:
    return forbidden("You need to have writer access to this calendar.")


def non_organizer() -> ApiError:
    return ApiError(
        403,
        "forbiddenForNonOrganizer",
        "The operation can only be performed by the organizer of the event.",
    )


def birthday_private() -> ApiError:
    # phw198/OutlookGoogleCalendarSync#2103: Google's exact message.
    return invalid("'birthday' event type must not have private extended properties")


class World:
    def __init__(self, lenient: frozenset[str] = frozenset()) -> None:
        self.lock = threading.RLock()
        self.tokens: dict[str, str] = {}  # bearer token -> email
        self.calendars: dict[str, Calendar] = {}
        self.seq = 0
        # The one sandbox clock (real time + offset): `updated`, sync-token age, usage
        # lockouts and quota windows all read `now()`; `advance_clock` moves it.
        self.clock_offset = timedelta(0)
        self.lenient = lenient

    # ---- users, calendars, ACL -------------------------------------------------------
    def add_user(self, email: str, token: str) -> None:
        with self.lock:
            self.tokens[token] = email

    def revoke_token(self, token: str) -> None:
        """The token stops working (401), as after the user revokes access."""
        with self.lock:
            self.tokens.pop(token, None)

    def user_for(self, token: str | None) -> str | None:
        if not token:
            return None
        with self.lock:
            return self.tokens.get(token)

    def create_calendar(
        self, owner: str, summary: str, time_zone: str = "UTC", calendar_id: str | None = None
    ) -> str:
        with self.lock:
            cid = calendar_id or f"{uuid.uuid4().hex[:26]}@group.calendar.google.com"
            if cid in self.calendars:
                raise ApiError(409, "duplicate", f"Calendar {cid} already exists")
            zone(time_zone)
            self.calendars[cid] = Calendar(
                id=cid,
                summary=summary,
                time_zone=time_zone,
                owner=owner,
                acl={owner: "owner"},
                updated=format_utc(self.now()),
            )
            return cid

    def share(
        self, calendar_id: str, email: str, role: str, *, allow_unknown: bool = False
    ) -> None:
        if role not in ROLES + OTHER_ROLES and not (allow_unknown and role):
            raise ValueError(f"role must be one of {ROLES + OTHER_ROLES}, got {role!r}")
        with self.lock:
            self.calendar(calendar_id).acl[email] = role

    def calendar(self, calendar_id: str) -> Calendar:
        cal = self.calendars.get(calendar_id)
        if cal is None:
            raise not_found()
        return cal

    def role(self, cal: Calendar, user: str | None) -> str | None:
        return "owner" if user is None else cal.acl.get(user)

    def readable(self, calendar_id: str, user: str | None, *, events: bool = True) -> Calendar:
        """The calendar if `user` may read its events (freeBusyReader may not: 403)."""
        cal = self.calendar(calendar_id)
        role = self.role(cal, user)
        if role is None:
            raise not_found()
        if events and not role_at_least(role, "reader"):
            raise forbidden("You need to have reader access to this calendar.")
        return cal

    def writable(self, calendar_id: str, user: str | None) -> Calendar:
        cal = self.readable(calendar_id, user, events=False)
        if not role_at_least(self.role(cal, user), "writer"):
            raise writer_needed()
        return cal

    def calendar_entry(self, cal: Calendar, user: str | None) -> dict[str, Any]:
        role = self.role(cal, user) or "reader"
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{zlib.crc32(f"{cal.id}|{cal.summary}|{role}".encode()):016d}"',
            "id": cal.id,
            "summary": cal.summary,
            "timeZone": cal.time_zone,
            "accessRole": role,
            "colorId": "1",
            "backgroundColor": "#ac725e",
            "foregroundColor": "#1d1d1d",
            "selected": True,
            "defaultReminders": [],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if cal.description:
            entry["description"] = cal.description
        if user is not None and cal.id == user and cal.owner == user:
            entry["primary"] = True
        return entry

    def calendar_list(self, user: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                self.calendar_entry(cal, user)
                for cal in sorted(self.calendars.values(), key=lambda c: (c.id != user, c.id))
                if user in cal.acl
            ]

    # ---- time, etags ---------------------------------------------------------------
    def now(self) -> datetime:
        return now_utc() + self.clock_offset

    def timestamp(self) -> float:
        """The sandbox clock in epoch seconds (quota windows, lockouts)."""
        return self.now().timestamp()

    def advance_clock(self, delta: timedelta) -> None:
        """Move the sandbox clock (forward or back) by `delta`."""
        with self.lock:
            self.clock_offset += delta

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def stamp(self, event: dict[str, Any], seq: int, *, keep_times: bool = False) -> None:
        now = format_utc(self.now())
        event["etag"] = f'"3{seq:015d}"'
        if not (keep_times and event.get("updated")):
            event["updated"] = now
        event.setdefault("created", now)
        event["sequence"] = int(event.get("sequence", 0))

    # ---- reads ---------------------------------------------------------------------
    def find(self, cal: Calendar, event_id: str, *, full: bool = False) -> dict[str, Any]:
        """The event as shown, including generated instances of a series (404 if none).

        `full` keeps every field of a cancelled instance (what a patch starts from)."""
        stored = cal.events.get(event_id)
        if stored is not None:
            return cal.render(stored, full=full)
        master, occ = self.virtual_instance(cal, event_id)
        return cal.instance(master, occ, full=full)

    def virtual_instance(self, cal: Calendar, event_id: str) -> tuple[dict[str, Any], datetime]:
        """(series master, occurrence) named by an instance id `{master}_{stamp}`, else 404."""
        master_id, sep, stamp = event_id.rpartition("_")
        master = cal.events.get(master_id) if sep else None
        if master is None or not master.get("recurrence"):
            raise not_found()
        try:
            if "T" in stamp:
                occ = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                hits = recurrence.occurrences(
                    master, cal.time_zone, occ, occ + timedelta(seconds=1)
                )
                hits = [h for h in hits if h.tzinfo is not None and h == occ]
            else:
                day = datetime.strptime(stamp, "%Y%m%d")
                lo = edge({"date": day.date().isoformat()}, cal.time_zone, field_name="start")
                hits = recurrence.occurrences(master, cal.time_zone, lo, lo + timedelta(days=1))
                hits = [h for h in hits if h.tzinfo is None and h == day]
        except ValueError:
            raise not_found() from None
        if not hits:
            raise not_found()
        return master, hits[0]

    def get_event(self, calendar_id: str, event_id: str, user: str | None) -> dict[str, Any]:
        with self.lock:
            cal = self.readable(calendar_id, user)
            return self.find(cal, event_id)

    # ---- writes --------------------------------------------------------------------
    def _owner_fields(self, cal: Calendar, event: dict[str, Any], user: str | None) -> None:
        creator = user or cal.owner
        event.setdefault(
            "creator", {"email": creator, **({"self": True} if creator == cal.id else {})}
        )
        event.setdefault("organizer", {"email": cal.id, "displayName": cal.summary, "self": True})
        for att in event.get("attendees") or []:
            if att.get("email") == cal.id:
                att["self"] = True
            att.setdefault("responseStatus", "needsAction")

    def insert_event(
        self,
        calendar_id: str,
        body: dict[str, Any],
        user: str | None,
        *,
        importing: bool = False,
    ) -> dict[str, Any]:
        with self.lock:
            cal = self.writable(calendar_id, user)
            event = check_event(clone(body), cal.time_zone, previous_type=None, creating=True)
            eid = event.get("id")
            if eid:
                check_id(str(eid))
                # A used id is never free again: deleted (cancelled) or purged from the
                # trash, insert answers 409 (google-api-python-client#846, GAMADV-X#82).
                if eid in cal.events or (
                    eid in cal.tombstones and "ids_reusable" not in self.lenient
                ):
                    raise ApiError(409, "duplicate", "The requested identifier already exists.")
                cal.tombstones.discard(eid)
            else:
                eid = uuid.uuid4().hex
                while eid in cal.events or eid in cal.tombstones:
                    eid = uuid.uuid4().hex
            event["id"] = eid
            event["kind"] = "calendar#event"
            event.setdefault("iCalUID", f"{eid}@google.com")
            event["htmlLink"] = f"https://www.google.com/calendar/event?eid={eid}"
            event.setdefault("reminders", {"useDefault": True})
            event.pop("recurringEventId", None)
            event.pop("originalStartTime", None)
            if user is not None and not importing:
                # events.insert makes the calendar the organizer whatever the body says
                # (only events.import keeps a foreign organizer: an invitation's copy).
                event.pop("organizer", None)
            self._check_birthday(event)
            self._owner_fields(cal, event, user)
            keep = user is None and bool(body.get("updated"))
            if keep:
                event["updated"], event["created"] = (
                    body["updated"],
                    body.get("created", body["updated"]),
                )
            seq = self.next_seq()
            self.stamp(event, seq, keep_times=keep)
            cal.store(event, seq)
            return public(event)

    def _check_birthday(self, event: dict[str, Any]) -> None:
        if (
            event.get("eventType") == "birthday"
            and ((event.get("extendedProperties") or {}).get("private"))
            and "birthday_private" not in self.lenient
        ):
            raise birthday_private()

    def is_invitation(self, cal: Calendar, event: dict[str, Any]) -> bool:
        """Organized outside this account, guests may not modify it."""
        organizer = (event.get("organizer") or {}).get("email")
        return (
            bool(organizer)
            and organizer not in (cal.id, cal.owner)
            and not event.get("guestsCanModify", False)
        )

    def _check_invitation(
        self, cal: Calendar, current: dict[str, Any], clean: dict[str, Any], user: str | None
    ) -> None:
        """403 forbiddenForNonOrganizer when an API caller changes more of an invitation
        than its own answer and reminders (see ATTENDEE_MAY_CHANGE)."""
        if user is None or "invitation_patches" in self.lenient:
            return
        if not self.is_invitation(cal, current):
            return
        keys = (set(current) | set(clean)) - SERVER_OWNED - ATTENDEE_MAY_CHANGE
        changed = {k for k in keys if current.get(k) != clean.get(k)}
        if _others_answers(current) != _others_answers(clean):
            changed.add("attendees")
        if changed:
            raise non_organizer()

    def _check_etag(self, current: dict[str, Any], if_match: str | None) -> None:
        if if_match and if_match != "*" and if_match != current.get("etag"):
            raise ApiError(412, "conditionNotMet", "Precondition Failed")

    def patch_event(
        self,
        calendar_id: str,
        event_id: str,
        patch: dict[str, Any],
        user: str | None,
        *,
        if_match: str | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """patch merges (extendedProperties per key, null removes); replace is PUT (update)."""
        if not isinstance(patch, dict):
            raise invalid("Invalid event body.")
        with self.lock:
            cal = self.writable(calendar_id, user)
            current = self.find(cal, event_id, full=True)
            self._check_etag(current, if_match)
            if (
                user is not None
                and current.get("status") == "cancelled"
                and event_id in cal.person_deleted
                and "revive_person_deleted" not in self.lenient
            ):
                # Deleted by the person in the web UI: the API cannot bring it back
                # (google-api-ruby-client#1811, stackoverflow 27542721).
                raise forbidden("This event was deleted and cannot be modified.")
            if "recurringEventId" in current and patch.get("recurrence"):
                raise invalid("Cannot set recurrence on an instance of a recurring event.")
            if replace:
                merged = {k: v for k, v in clone(patch).items()}
                for key in (
                    "recurringEventId",
                    "originalStartTime",
                    "organizer",
                    "creator",
                    "created",
                    "iCalUID",
                ):
                    if key in current:
                        merged[key] = current[key]
                merged.setdefault("eventType", current.get("eventType", "default"))
            else:
                merged = merge_patch(clone(current), clone(patch))
            previous_type = current.get("eventType", "default")
            clean = check_event(merged, cal.time_zone, previous_type=previous_type, creating=False)
            for key in ("id", "kind", "iCalUID", "htmlLink", "created", "creator", "organizer"):
                if key in current:
                    clean[key] = current[key]
            clean["sequence"] = int(current.get("sequence", 0)) + (
                1
                if clean.get("start") != current.get("start")
                or clean.get("end") != current.get("end")
                else 0
            )
            self._owner_fields(cal, clean, user)
            self._check_invitation(cal, current, clean, user)
            self._check_birthday(clean)
            if clean.get("status") != "cancelled":
                cal.person_deleted.discard(event_id)
            return self._write(cal, event_id, clean, current, full=replace, patch_keys=set(patch))

    def _write(
        self,
        cal: Calendar,
        event_id: str,
        event: dict[str, Any],
        current: dict[str, Any],
        *,
        full: bool,
        patch_keys: set[str],
    ) -> dict[str, Any]:
        seq = self.next_seq()
        stored = cal.events.get(event_id)
        if "recurringEventId" in current and (stored is None or cal.is_exception(stored)):
            # An instance: keep only what differs from the series, unless PUT replaced it.
            previous = stored or {}
            exc: dict[str, Any] = {"_full": full}
            if full:
                exc.update(event)
            else:
                overrides = {k for k in previous if not k.startswith("_")} | patch_keys
                overrides |= {"id", "recurringEventId", "originalStartTime", "status", "sequence"}
                for key in overrides:
                    if key in event:
                        exc[key] = event[key]
                exc["_removed"] = sorted(k for k in patch_keys if k not in event)
            exc["kind"] = "calendar#event"
            self.stamp(exc, seq)
            cal.store(exc, seq)
            return cal.render(exc)
        self.stamp(event, seq)
        cal.store(event, seq)
        return public(event)

    def delete_event(
        self, calendar_id: str, event_id: str, user: str | None, *, if_match: str | None = None
    ) -> None:
        with self.lock:
            cal = self.writable(calendar_id, user)
            current = self.find(cal, event_id)
            if current.get("status") == "cancelled":
                raise ApiError(410, "deleted", "Resource has been deleted")
            self._check_etag(current, if_match)
            stored = cal.events.get(event_id)
            seq = self.next_seq()
            if "recurringEventId" in current and (stored is None or cal.is_exception(stored)):
                exc = (
                    dict(stored)
                    if stored
                    else {
                        "_full": False,
                        "id": event_id,
                        "recurringEventId": current["recurringEventId"],
                        "originalStartTime": current["originalStartTime"],
                    }
                )
                exc["status"] = "cancelled"
                self.stamp(exc, seq)
                cal.store(exc, seq)
                return
            event = dict(cal.events[event_id])
            event["status"] = "cancelled"
            self.stamp(event, seq)
            cal.store(event, seq)

    def move_event(
        self, calendar_id: str, event_id: str, destination: str, user: str | None
    ) -> dict[str, Any]:
        with self.lock:
            src = self.writable(calendar_id, user)
            dst = self.writable(destination, user)
            stored = src.events.get(event_id)
            if stored is None:
                self.find(src, event_id)  # 404 for unknown ids
                raise invalid("Cannot move an instance of a recurring event.")
            if src.is_exception(stored):
                raise invalid("Cannot move an instance of a recurring event.")
            if stored.get("status") == "cancelled":
                raise ApiError(410, "deleted", "Resource has been deleted")
            if event_id in dst.events:
                raise ApiError(409, "duplicate", "The requested identifier already exists.")
            moved = dict(stored)
            moved["organizer"] = {"email": dst.id, "displayName": dst.summary, "self": True}
            seq = self.next_seq()
            self.stamp(moved, seq)
            dst.store(moved, seq)
            gone = dict(stored)
            gone["status"] = "cancelled"
            self.stamp(gone, seq)
            src.store(gone, seq)
            return public(moved)

    def delete_as_person(self, calendar_id: str, event_id: str) -> None:
        """The person deletes the event in Google's web UI: cancelled like an API delete,
        but patch/update through the API can no longer revive it (403)."""
        with self.lock:
            self.delete_event(calendar_id, event_id, None)
            self.calendar(calendar_id).person_deleted.add(event_id)

    def purge_trash(self, calendar_id: str | None = None) -> list[str]:
        """Google empties the trash (after 30 days, or the person does): deleted events
        vanish; get/patch/update answer 404, insert of the id still 409. Sync tokens
        older than a purged deletion can no longer report it: 410."""
        with self.lock:
            purged: list[str] = []
            for cal in self.calendars.values():
                if calendar_id is None or cal.id == calendar_id:
                    purged.extend(cal.purge())
                    cal.person_deleted.intersection_update(cal.events)
            return purged

    def expire_sync_tokens(self, calendar_id: str | None = None) -> None:
        with self.lock:
            for cal in self.calendars.values():
                if calendar_id is None or cal.id == calendar_id:
                    cal.generation += 1


def _others_answers(event: dict[str, Any]) -> list[Any]:
    """The attendee list with each `self` attendee's answer masked (theirs to change)."""
    out: list[Any] = []
    for att in event.get("attendees") or []:
        if isinstance(att, dict) and att.get("self"):
            out.append({k: v for k, v in att.items() if k not in ("responseStatus", "comment")})
        else:
            out.append(att)
    return out


def merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Google's patch: top-level fields replaced, null removes; extendedProperties merged per key."""
    merged = {k: v for k, v in current.items() if not k.startswith("_")}
    for key, value in patch.items():
        if key == "extendedProperties" and isinstance(value, dict):
            props = clone(current.get("extendedProperties") or {})
            for scope in ("private", "shared"):
                if scope not in value:
                    continue
                if value[scope] is None:
                    props.pop(scope, None)
                    continue
                target = dict(props.get(scope) or {})
                for pkey, pval in (value[scope] or {}).items():
                    if pval is None:
                        target.pop(pkey, None)
                    else:
                        target[pkey] = pval
                props[scope] = target
            merged["extendedProperties"] = props
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
