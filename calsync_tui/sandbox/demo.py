"""The seeded demo world: two accounts, five calendars, and the state the old text-based
mirroring left behind (legacy `🔒 Busy - X` blocks with duplicates, cascades, orphans and
out-of-date blocks), plus a few events stamped by another calsync installation.

Deterministic for a seed and a fixed `now`. Source titles carry a short number so that
every legacy block has exactly one explanation; `DemoTruth` says what a correct
inventory must find per calendar (in the default window, now - 7 days .. now + 90 days,
with recurring series counted per instance).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from calsync_tui.sandbox import recurrence
from calsync_tui.settings import DEFAULT_IGNORED_EVENT_TYPES, DEFAULT_LEGACY_MARKERS

DEMO_ACCOUNTS = [
    ("alex@work.example", "demo-work-token"),
    ("alex@personal.example", "demo-personal-token"),
]
WORK, PERSONAL = DEMO_ACCOUNTS[0][0], DEMO_ACCOUNTS[1][0]
TEAM_OWNER = "lead@work.example"
FAMILY_OWNER = "sam@personal.example"
TEAM_CAL = "c_platform.team@group.calendar.google.com"
SIDE_CAL = "c_sideproject@group.calendar.google.com"
FAMILY_CAL = "c_family@group.calendar.google.com"
OTHER_INSTALLATION = "0b6e2a57-5c1d-4d0e-9a59-0c2f3f9e7a11"
WINDOW_BACK = timedelta(days=7)
WINDOW_AHEAD = timedelta(days=90)
# Writable calendars the old system mirrored between; the team calendar was a source too.
MIRRORED = (WORK, PERSONAL, SIDE_CAL)
SOURCES = (WORK, PERSONAL, SIDE_CAL, TEAM_CAL)

TITLES = {
    WORK: [
        "Design review",
        "1:1 with Priya",
        "Customer call",
        "Incident review",
        "Roadmap sync",
        "Interview loop",
        "Budget check-in",
        "Architecture forum",
        "Vendor demo",
        "Offsite prep",
    ],
    PERSONAL: [
        "Dentist",
        "Gym",
        "Dinner with Jo",
        "Piano lesson",
        "Car service",
        "Haircut",
        "Parents' evening",
        "Flight to Lisbon",
        "Book club",
        "Vet appointment",
    ],
    SIDE_CAL: [
        "Release planning",
        "Pairing session",
        "Bug bash",
        "Newsletter draft",
        "Podcast recording",
        "Contributor call",
    ],
    TEAM_CAL: [
        "Platform sync",
        "Sprint planning",
        "Retro",
        "On-call handover",
        "Tech talk",
        "Demo day",
    ],
    FAMILY_CAL: ["School play", "Grandma's birthday", "Swimming", "Piano recital", "BBQ"],
}
ZONES = {
    WORK: ["Europe/Berlin", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"],
    PERSONAL: ["America/New_York", "America/New_York", "Europe/Lisbon"],
    SIDE_CAL: ["UTC", "Europe/Berlin"],
    TEAM_CAL: ["Europe/Berlin"],
    FAMILY_CAL: ["America/New_York"],
}


class _Server(Protocol):
    def add_user(self, email: str, token: str) -> None: ...
    def create_calendar(
        self, owner_email: str, summary: str, time_zone: str = ..., calendar_id: str | None = ...
    ) -> str: ...
    def share(self, calendar_id: str, email: str, role: str) -> None: ...
    def put_event(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def patch_event(
        self, calendar_id: str, event_id: str, patch: dict[str, Any]
    ) -> dict[str, Any]: ...
    def delete_event(self, calendar_id: str, event_id: str) -> None: ...
    def events(
        self,
        calendar_id: str,
        *,
        include_cancelled: bool = ...,
        single_events: bool = ...,
        time_min: str | None = ...,
        time_max: str | None = ...,
        copy: bool = ...,
    ) -> list[dict[str, Any]]: ...


@dataclass
class CalendarTruth:
    """What a correct inventory of one calendar finds in the window."""

    calendar_id: str
    summary: str
    owner: str
    roles: dict[str, str]  # demo account email -> accessRole
    user_events: int = 0  # non-ignored sources (instances of series counted one by one)
    legacy_blocks: int = 0  # every `<emoji> Busy - X` event, anomalies included
    duplicates: int = 0  # extra blocks for a (source, target) that already has one
    cascades: int = 0  # `🔒 Busy - 🔒 Busy - X`
    orphans: int = 0  # the source is gone
    out_of_date: int = 0  # the source moved after the block was made
    external: int = 0  # stamped by another calsync installation
    ignored: int = 0  # free, declined, focusTime/outOfOffice/workingLocation
    recurring_series: int = 0
    stored_events: int = 0  # everything stored, cancelled and out-of-window included


@dataclass
class DemoTruth:
    seed: int
    now: str
    window_start: str
    window_end: str
    accounts: list[tuple[str, str]]
    calendars: dict[str, CalendarTruth] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        keys = [k for k, v in asdict(CalendarTruth("", "", "", {})).items() if isinstance(v, int)]
        return {k: sum(getattr(c, k) for c in self.calendars.values()) for k in keys}

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["accounts"] = [list(a) for a in self.accounts]
        out["totals"] = self.totals()
        return out


def _rfc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Builder:
    def __init__(self, srv: _Server, seed: int, budget: int, now: datetime) -> None:
        self.srv = srv
        self.rng = random.Random(seed)
        self.budget = budget
        self.now = now.astimezone(UTC)
        self.made = 0
        self.serial = 0
        self.bookkeeping: dict[str, dict[str, int]] = {}

    # ---- helpers --------------------------------------------------------------------
    def new_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def count(self, cal: str, key: str, n: int = 1) -> None:
        self.bookkeeping.setdefault(cal, {}).setdefault(key, 0)
        self.bookkeeping[cal][key] += n

    def put(self, cal: str, body: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("id", self.new_id())
        self.made += 1
        world = getattr(self.srv, "world", None)
        if world is not None:  # same validation as put_event, without copying the answer
            event: dict[str, Any] = world.insert_event(cal, body, None)
            return event
        return self.srv.put_event(cal, body)

    def title(self, cal: str) -> str:
        self.serial += 1
        return f"{self.rng.choice(TITLES[cal])} #{self.serial}"

    def timed(
        self, cal: str, *, lo_days: float = -6, hi_days: float = 88, minute_grid: int = 15
    ) -> tuple[dict[str, str], dict[str, str]]:
        tzname = self.rng.choice(ZONES[cal])
        tz = ZoneInfo(tzname)
        day = self.now + timedelta(days=self.rng.uniform(lo_days, hi_days))
        local = day.astimezone(tz).replace(
            hour=self.rng.randint(8, 18),
            minute=self.rng.randrange(0, 60, minute_grid),
            second=0,
            microsecond=0,
        )
        length = timedelta(minutes=self.rng.choice([15, 30, 30, 45, 60, 60, 90, 120]))
        start = {"dateTime": local.isoformat(timespec="seconds"), "timeZone": tzname}
        end = {"dateTime": (local + length).isoformat(timespec="seconds"), "timeZone": tzname}
        return start, end

    def all_day(
        self, *, lo_days: int = -6, hi_days: int = 88
    ) -> tuple[dict[str, str], dict[str, str]]:
        d: date = (self.now + timedelta(days=self.rng.randint(lo_days, hi_days))).date()
        n = self.rng.choice([1, 1, 1, 2, 3])
        return {"date": d.isoformat()}, {"date": (d + timedelta(days=n)).isoformat()}

    def block(self, target: str, title: str, start: dict[str, str], end: dict[str, str]) -> None:
        marker = (
            DEFAULT_LEGACY_MARKERS[0] if self.rng.random() < 0.85 else DEFAULT_LEGACY_MARKERS[1]
        )
        self.put(
            target,
            {
                "summary": f"{marker} Busy - {title}",
                "start": dict(start),
                "end": dict(end),
                "transparency": "opaque",
                "visibility": "private",
                "reminders": {"useDefault": False},
            },
        )

    # ---- world ----------------------------------------------------------------------
    def calendars(self) -> None:
        srv = self.srv
        for email, token in DEMO_ACCOUNTS:
            srv.add_user(email, token)
        srv.create_calendar(WORK, "Work", "Europe/Berlin", WORK)
        srv.create_calendar(TEAM_OWNER, "Platform team", "Europe/Berlin", TEAM_CAL)
        srv.share(TEAM_CAL, WORK, "reader")
        srv.create_calendar(PERSONAL, "Personal", "America/New_York", PERSONAL)
        srv.create_calendar(PERSONAL, "Side project", "UTC", SIDE_CAL)
        srv.create_calendar(FAMILY_OWNER, "Family", "America/New_York", FAMILY_CAL)
        srv.share(FAMILY_CAL, PERSONAL, "reader")
        srv.share(FAMILY_CAL, WORK, "freeBusyReader")

    def series(self) -> None:
        """Daily and weekly series with a moved instance, a cancelled one and an EXDATE."""
        specs = [
            (
                WORK,
                "Daily standup",
                "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
                "Europe/Berlin",
                9,
                15,
            ),
            (WORK, "Weekly planning", "RRULE:FREQ=WEEKLY;BYDAY=MO", "Europe/Berlin", 11, 60),
            (
                PERSONAL,
                "Gym class",
                "RRULE:FREQ=WEEKLY;BYDAY=TU,TH;COUNT=40",
                "America/New_York",
                18,
                60,
            ),
            (
                TEAM_CAL,
                "Platform office hours",
                "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
                "Europe/Berlin",
                15,
                45,
            ),
            (SIDE_CAL, "Maintainer sync", "RRULE:FREQ=DAILY;INTERVAL=3", "UTC", 19, 30),
            (FAMILY_CAL, "Swim practice", "RRULE:FREQ=WEEKLY;BYDAY=SA", "America/New_York", 9, 60),
        ]
        n = max(3, min(len(specs), self.budget // 60))
        for cal, title, rule, tzname, hour, minutes in specs[:n]:
            tz = ZoneInfo(tzname)
            first = (
                (self.now - timedelta(days=14))
                .astimezone(tz)
                .replace(hour=hour, minute=0, second=0, microsecond=0)
            )
            start = {"dateTime": first.isoformat(timespec="seconds"), "timeZone": tzname}
            end = {
                "dateTime": (first + timedelta(minutes=minutes)).isoformat(timespec="seconds"),
                "timeZone": tzname,
            }
            exdate = None
            occ = recurrence.occurrences(
                {"id": "x", "start": start, "end": end, "recurrence": [rule]},
                "UTC",
                self.now + timedelta(days=3),
                self.now + timedelta(days=40),
            )
            if len(occ) > 3:
                exdate = occ[2].astimezone(tz).strftime("%Y%m%dT%H%M%S")
            lines = [rule] + ([f"EXDATE;TZID={tzname}:{exdate}"] if exdate else [])
            master = self.put(
                cal, {"summary": title, "start": start, "end": end, "recurrence": lines}
            )
            self.count(cal, "recurring_series")
            if len(occ) > 3:
                moved = recurrence.instance_id(master["id"], occ[0], False)
                new_start = occ[0].astimezone(tz) + timedelta(hours=1)
                self.srv.patch_event(
                    cal,
                    moved,
                    {
                        "start": {
                            "dateTime": new_start.isoformat(timespec="seconds"),
                            "timeZone": tzname,
                        },
                        "end": {
                            "dateTime": (new_start + timedelta(minutes=minutes)).isoformat(
                                timespec="seconds"
                            ),
                            "timeZone": tzname,
                        },
                        "summary": f"{title} (moved)",
                    },
                )
                self.srv.delete_event(cal, recurrence.instance_id(master["id"], occ[1], False))
                self.made += 2

    def ignored(self, cal: str) -> None:
        kind = self.rng.randrange(5)
        start, end = self.timed(cal)
        body: dict[str, Any] = {"summary": self.title(cal), "start": start, "end": end}
        if kind == 0:
            body["transparency"] = "transparent"
            body["summary"] = f"Maybe: {body['summary']}"
        elif kind == 1:
            body["attendees"] = [
                {"email": cal, "responseStatus": "declined"},
                {
                    "email": "someone@partner.example",
                    "responseStatus": "accepted",
                    "organizer": True,
                },
            ]
            body["organizer"] = {"email": "someone@partner.example"}
        elif kind == 2:
            body["eventType"] = "focusTime"
            body["summary"] = "Focus time"
            body["transparency"] = "opaque"
        elif kind == 3:
            body["eventType"] = "outOfOffice"
            body["summary"] = "Out of office"
        else:
            d_start, _ = self.all_day()
            body = {
                "summary": "Home" if self.rng.random() < 0.5 else "Office",
                "eventType": "workingLocation",
                "start": d_start,
                "end": {
                    "date": (date.fromisoformat(d_start["date"]) + timedelta(days=1)).isoformat()
                },
                "transparency": "transparent",
                "visibility": "public",
                "workingLocationProperties": {"type": "homeOffice"},
            }
        self.put(cal, body)

    def external(self, cal: str) -> None:
        start, end = self.timed(cal)
        kind = "user_event" if self.rng.random() < 0.5 else "busy_block"
        self.put(
            cal,
            {
                "summary": self.title(cal) if kind == "user_event" else "Busy",
                "start": start,
                "end": end,
                "extendedProperties": {
                    "private": {
                        "calsync_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                        "calsync_type": kind,
                        "calsync_v": "1",
                        "calsync_instance": OTHER_INSTALLATION,
                    }
                },
            },
        )

    def source(self, cal: str) -> None:
        """One user event and what the old system left for it on the other calendars."""
        if self.rng.random() < 0.12:
            start, end = self.all_day()
        else:
            start, end = self.timed(cal)
        title = self.title(cal)
        body: dict[str, Any] = {"summary": title, "start": start, "end": end}
        if self.rng.random() < 0.3:
            body["description"] = "Agenda in the doc."
        if self.rng.random() < 0.2:
            body["attendees"] = [
                {"email": cal, "responseStatus": "accepted"},
                {"email": "colleague@work.example", "responseStatus": "needsAction"},
            ]
        src = self.put(cal, body)
        if self.rng.random() > 0.75:
            return  # made after the old system stopped: no blocks yet
        targets = [t for t in MIRRORED if t != cal]
        roll = self.rng.random()
        for target in targets:
            self.block(target, title, start, end)
            self.count(target, "legacy_blocks")
        if roll < 0.05:  # the old system mirrored twice
            target = self.rng.choice(targets)
            self.block(target, title, start, end)
            self.count(target, "legacy_blocks")
            self.count(target, "duplicates")
        elif roll < 0.08:  # a block of a block on the third calendar
            third = [t for t in MIRRORED if t not in (cal, targets[0])]
            if third:
                self.block(third[0], f"{DEFAULT_LEGACY_MARKERS[0]} Busy - {title}", start, end)
                self.count(third[0], "legacy_blocks")
                self.count(third[0], "cascades")
        elif roll < 0.12 and "dateTime" in start:  # the source moved since
            shift = timedelta(hours=self.rng.choice([-2, 1, 3, 24]))
            moved = {k: _shift(v, shift) for k, v in (("start", start), ("end", end))}
            self.srv.patch_event(cal, src["id"], moved)
            for target in targets:
                self.count(target, "out_of_date")
        elif roll < 0.15:  # the source was deleted, its blocks stayed
            self.srv.delete_event(cal, src["id"])
            for target in targets:
                self.count(target, "orphans")

    def orphan_without_source(self) -> None:
        """A block whose source never existed here (deleted long ago); odd minutes keep its
        time unlike any source's."""
        target = self.rng.choice(MIRRORED)
        start, end = self.timed(target, minute_grid=60)
        start["dateTime"] = start["dateTime"][:14] + "07" + start["dateTime"][16:]
        end["dateTime"] = end["dateTime"][:14] + "07" + end["dateTime"][16:]
        self.serial += 1
        self.block(target, f"Cancelled meeting #{self.serial}", start, end)
        self.count(target, "legacy_blocks")
        self.count(target, "orphans")

    def fill(self) -> None:
        weights = [(WORK, 40), (PERSONAL, 25), (SIDE_CAL, 12), (TEAM_CAL, 15)]
        cals = [c for c, _ in weights]
        w = [x for _, x in weights]
        while self.made < self.budget:
            r = self.rng.random()
            if r < 0.08:
                self.ignored(self.rng.choice([WORK, WORK, PERSONAL, TEAM_CAL]))
            elif r < 0.09:
                self.external(self.rng.choice(MIRRORED))
            elif r < 0.10:
                self.orphan_without_source()
            elif r < 0.14:
                start, end = self.timed(FAMILY_CAL)
                self.put(
                    FAMILY_CAL, {"summary": self.title(FAMILY_CAL), "start": start, "end": end}
                )
            elif r < 0.16:  # outside the window: never inventoried
                cal = self.rng.choice(cals)
                start, end = (
                    self.timed(cal, lo_days=-40, hi_days=-9)
                    if self.rng.random() < 0.5
                    else self.timed(cal, lo_days=92, hi_days=150)
                )
                self.put(cal, {"summary": self.title(cal), "start": start, "end": end})
            else:
                self.source(self.rng.choices(cals, weights=w)[0])


def _shift(when: dict[str, str], delta: timedelta) -> dict[str, str]:
    dt = datetime.fromisoformat(when["dateTime"]) + delta
    return {"dateTime": dt.isoformat(timespec="seconds"), "timeZone": when["timeZone"]}


def build_demo(
    srv: _Server, seed: int = 7, events: int = 400, now: datetime | None = None
) -> DemoTruth:
    """Fill `srv` with the demo world (`events` stored events, roughly) and say what is in it.

    `events=0` makes the accounts and calendars only.
    """
    now = (now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)).astimezone(UTC)
    b = _Builder(srv, seed, events, now)
    b.calendars()
    if events > 0:
        b.series()
        b.fill()
    truth = tally(srv, b, seed)
    if hasattr(srv, "demo_truth"):
        srv.demo_truth = truth
    return truth


def tally(srv: _Server, b: _Builder, seed: int) -> DemoTruth:
    """Count classes from the server's own listing (window, series expanded)."""
    lo, hi = b.now - WINDOW_BACK, b.now + WINDOW_AHEAD
    truth = DemoTruth(
        seed=seed,
        now=_rfc(b.now),
        window_start=_rfc(lo),
        window_end=_rfc(hi),
        accounts=list(DEMO_ACCOUNTS),
    )
    info = [
        (WORK, "Work", WORK, {WORK: "owner"}),
        (TEAM_CAL, "Platform team", TEAM_OWNER, {WORK: "reader"}),
        (PERSONAL, "Personal", PERSONAL, {PERSONAL: "owner"}),
        (SIDE_CAL, "Side project", PERSONAL, {PERSONAL: "owner"}),
        (FAMILY_CAL, "Family", FAMILY_OWNER, {PERSONAL: "reader", WORK: "freeBusyReader"}),
    ]
    for cal_id, summary, owner, roles in info:
        ct = CalendarTruth(cal_id, summary, owner, roles)
        for key, n in b.bookkeeping.get(cal_id, {}).items():
            setattr(ct, key, n)
        ct.legacy_blocks = 0
        ct.stored_events = len(srv.events(cal_id, include_cancelled=True, copy=False))
        for ev in srv.events(
            cal_id, single_events=True, time_min=_rfc(lo), time_max=_rfc(hi), copy=False
        ):
            kind = classify_simple(ev, cal_id)
            if kind == "legacy_blocks":
                ct.legacy_blocks += 1
            elif kind:
                setattr(ct, kind, getattr(ct, kind) + 1)
        truth.calendars[cal_id] = ct
    return truth


def classify_simple(ev: dict[str, Any], cal_id: str) -> str | None:
    """The demo's own, deliberately simple reading of one listed event."""
    props = (ev.get("extendedProperties") or {}).get("private") or {}
    if ev.get("status") == "cancelled":
        return None
    if props.get("calsync_instance"):
        return "external"
    summary = str(ev.get("summary", ""))
    if any(summary.startswith(f"{m} Busy - ") for m in DEFAULT_LEGACY_MARKERS):
        return "legacy_blocks"
    if ev.get("transparency") == "transparent":
        return "ignored"
    if ev.get("eventType", "default") in DEFAULT_IGNORED_EVENT_TYPES:
        return "ignored"
    for att in ev.get("attendees") or []:
        if (att.get("self") or att.get("email") == cal_id) and att.get(
            "responseStatus"
        ) == "declined":
            return "ignored"
    return "user_events"
