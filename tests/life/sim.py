"""Months of a person's calendar life against the strict sandbox, through the real CLI.

One person, two accounts (work and home), three calendars. Every step (a few simulated
days) the person acts in Google's UI (the sandbox harness, user None): new events and
series (bounded and unbounded), moves, renames, declines, free/busy flips, deleted
sources, blocks deleted by hand (`delete_as_person`), cancelled single instances, the
trash purged now and then, an invitation whose organizer refuses patches, a burst that
trips the usage limit. Then time moves (the sandbox clock and the product's
`calsync_tui.clock` together), `calsync-tui sync --once --json` runs in process, and the
invariants are checked as Google shows them (`engine.invariants`) plus "the person's
events are as the person left them".
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from calsync_tui import clock
from calsync_tui.cli import main
from calsync_tui.context import AppContext
from calsync_tui.engine.calendars import list_calendars, refresh_calendars, set_enabled
from calsync_tui.engine.invariants import Violation, check_google, check_state
from calsync_tui.engine.model import EngineMode
from calsync_tui.sandbox.server import SandboxError, SandboxServer
from calsync_tui.settings import save_settings
from local_store.models import EventState
from tests.engine.world import World

WORK = "pat@work.example"
HOME = "pat@home.example"
FMT = "%Y-%m-%dT%H:%M:%SZ"
# The person's own fields the product must never change (it may add private properties).
KEPT = ("summary", "start", "end", "transparency", "status", "recurrence")
# What can go wrong for good on Google; a life may leave some out to isolate one.
HAZARDS = frozenset({"invitation", "delete_block", "purge", "burst"})
# What a step inside a usage-limit lockout may leave for the next step to finish, on
# the locked account's calendars only: every write of that account is refused (403
# quotaExceeded, the account is read-only for hours: support.google.com/a/answer/2905486,
# GOOGLE_FACTS "Errors and quota"), inserts (missing blocks, rows `creating`) and
# deletes (an orphan whose source went in the same step) alike.
PAUSE_WAITS = frozenset({"missing_block", "stuck", "orphan_block"})
PAUSE_LINE = "usage limit"
BURST_ACCOUNT = HOME  # the account whose usage limit a burst trips


@dataclass
class StepResult:
    day: int
    actions: Counter[str]
    cycles_failed: int
    failed_mutations: int
    violations: Counter[str]
    touched: int  # the person's events changed by the product
    # Every failed cycle of this step was the usage-limit pause (issue 15: writes stop,
    # the CLI exits 1 with the one line, nothing is lost, the next step converges).
    paused: bool = False
    # Violations the pause excuses: PAUSE_WAITS kinds on the locked account's calendars.
    waits: int = 0
    # What the step's cycles cost, as the sandbox counted it (stats.py) and the wall clock.
    cost: Counter[str] = field(default_factory=Counter)

    @property
    def missing(self) -> int:
        return self.violations.get("missing_block", 0)

    def clean(self) -> bool:
        if self.paused:  # blocks wait (missing, pending) while Google refuses every write
            rest = sum(self.violations.values()) - self.waits
            return not (self.failed_mutations or rest or self.touched)
        return not (self.cycles_failed or self.failed_mutations or self.violations or self.touched)


@dataclass
class Life:
    sb: SandboxServer
    root: Path
    seed: int
    hazards: frozenset[str] = HAZARDS
    rng: random.Random = field(init=False)
    world: World = field(init=False)
    cals: dict[str, str] = field(default_factory=dict)  # name -> google id
    owner: dict[str, str] = field(default_factory=dict)  # google id -> account email
    mine: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # person's
    series: list[tuple[str, str]] = field(default_factory=list)
    invitations: list[tuple[str, str]] = field(default_factory=list)
    day: int = 0
    errors: list[str] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # failed mutations by reason
    last_paused: bool = False  # the last failed cycle was the usage-limit pause
    local_ids: dict[str, str] = field(default_factory=dict)  # local calendar id -> google id
    last_violations: list[Violation] = field(default_factory=list)
    made: int = 0
    last_cost: Counter[str] = field(default_factory=Counter)  # the last cycle's
    pauses: int = 0  # cycles that ended in the usage-limit pause (exit 1, the one line)
    wall_seconds: float = 0.0  # the whole run (set by run_life)
    cycle_ms: list[int] = field(default_factory=list)  # each cycle's wall time

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.world = World(self.sb, self.root, requests_per_minute=10_000)
        w = self.world
        w.user(WORK)
        w.user(HOME)
        self.cals = {
            "work": w.calendar(WORK, "Work", "Europe/Berlin", cal_id=WORK),
            "home": w.calendar(HOME, "Home", "Europe/Berlin", cal_id=HOME),
            "side": w.calendar(
                HOME,
                "Side project",
                "America/New_York",
                cal_id="side-pat@group.calendar.google.com",
            ),
        }
        self.owner = {self.cals["work"]: WORK, self.cals["home"]: HOME, self.cals["side"]: HOME}
        refresh_calendars(w.ctx.store, w.ctx.gateway_for)
        set_enabled(w.ctx.store, sorted({c.google_id for c in list_calendars(w.ctx.store)}), True)
        save_settings(w.home, w.settings)
        w.ctx.close()

    # ---- time ------------------------------------------------------------------------
    def now(self) -> datetime:
        return clock.now()

    def advance(self, days: int) -> None:
        self.sb.advance_clock(timedelta(days=days))
        clock.advance(timedelta(days=days))
        self.day += days

    def when(self, days: float, hour: int, length_min: int = 60) -> tuple[dict[str, str], ...]:
        base = self.now().replace(hour=0, minute=0, second=0, microsecond=0)
        start = base + timedelta(days=days, hours=hour)
        end = start + timedelta(minutes=length_min)
        return {"dateTime": start.strftime(FMT)}, {"dateTime": end.strftime(FMT)}

    # ---- the person in Google's UI ---------------------------------------------------
    def next_id(self) -> str:
        """Deterministic ids (base32hex), so a seed replays the same life."""
        self.made += 1
        return f"life{self.seed:02d}{self.made:06d}"

    def _remember(self, cal: str, ev: dict[str, Any]) -> None:
        self.mine[(cal, ev["id"])] = {k: ev.get(k) for k in KEPT}

    def new_event(self, cal: str, name: str) -> None:
        s, e = self.when(
            self.rng.randint(1, 60), self.rng.randint(7, 18), 30 * self.rng.randint(1, 4)
        )
        body: dict[str, Any] = {"id": self.next_id(), "summary": name, "start": s, "end": e}
        if self.rng.random() < 0.15:
            body["transparency"] = "transparent"
        self._remember(cal, self.sb.put_event(cal, body))

    def new_series(self, cal: str, name: str, *, bounded: bool) -> None:
        s, e = self.when(self.rng.randint(1, 20), self.rng.randint(7, 18), 45)
        tz = "Europe/Berlin"
        s = {"dateTime": s["dateTime"], "timeZone": tz}
        e = {"dateTime": e["dateTime"], "timeZone": tz}
        rule = self.rng.choice(["RRULE:FREQ=WEEKLY", "RRULE:FREQ=DAILY;INTERVAL=2"])
        if bounded:
            rule += f";COUNT={self.rng.randint(4, 12)}"
        body = {"id": self.next_id(), "summary": name, "start": s, "end": e, "recurrence": [rule]}
        ev = self.sb.put_event(cal, body)
        self._remember(cal, ev)
        self.series.append((cal, ev["id"]))

    def invite(self, cal: str, name: str) -> None:
        s, e = self.when(self.rng.randint(2, 40), self.rng.randint(8, 17))
        ev = self.sb.invite(cal, {"id": self.next_id(), "summary": name, "start": s, "end": e})
        self._remember(cal, ev)
        self.invitations.append((cal, ev["id"]))

    def live_mine(self, *, plain: bool = True) -> list[tuple[str, str]]:
        keys = [
            k
            for k, v in sorted(self.mine.items())
            if v.get("status") != "cancelled" and (not plain or not v.get("recurrence"))
        ]
        return [k for k in keys if k not in self.invitations]

    def person_patch(self, cal: str, eid: str, patch: dict[str, Any]) -> None:
        ev = self.sb.patch_event(cal, eid, patch)
        self._remember(cal, ev)

    def move(self) -> None:
        keys = self.live_mine()
        if keys:
            cal, eid = self.rng.choice(keys)
            s, e = self.when(self.rng.randint(1, 70), self.rng.randint(7, 18))
            self.person_patch(cal, eid, {"start": s, "end": e})

    def rename(self) -> None:
        keys = self.live_mine(plain=False)
        if keys:
            cal, eid = self.rng.choice(keys)
            self.person_patch(cal, eid, {"summary": f"Renamed d{self.day}"})

    def flip(self) -> None:
        keys = self.live_mine()
        if keys:
            cal, eid = self.rng.choice(keys)
            free = self.mine[(cal, eid)].get("transparency") == "transparent"
            self.person_patch(cal, eid, {"transparency": "opaque" if free else "transparent"})

    def decline(self) -> None:
        open_ = [k for k in self.invitations if self.mine[k].get("status") != "cancelled"]
        if open_:
            cal, eid = self.rng.choice(open_)
            current = next(e for e in self.sb.events(cal) if e["id"] == eid)
            attendees = [dict(a) for a in current["attendees"]]
            for a in attendees:
                if a.get("self"):
                    a["responseStatus"] = "declined"
            self.sb.patch_event(cal, eid, {"attendees": attendees})

    def delete_source(self) -> None:
        keys = self.live_mine(plain=False)
        if keys:
            cal, eid = self.rng.choice(keys)
            self.sb.delete_as_person(cal, eid)
            self.mine[(cal, eid)]["status"] = "cancelled"

    def cancel_instance(self) -> None:
        live = [k for k in self.series if self.mine[k].get("status") != "cancelled"]
        if not live:
            return
        cal, sid = self.rng.choice(live)
        lo, hi = self.now(), self.now() + timedelta(days=30)
        insts = [
            e
            for e in self.sb.events(
                cal, single_events=True, time_min=lo.strftime(FMT), time_max=hi.strftime(FMT)
            )
            if e.get("recurringEventId") == sid
        ]
        if insts:
            self.sb.delete_as_person(cal, self.rng.choice(insts)["id"])

    def delete_block_by_hand(self) -> None:
        blocks = [
            (cal, e["id"])
            for cal in self.cals.values()
            for e in self.sb.events(cal)
            if e.get("status") != "cancelled"
            and ((e.get("extendedProperties") or {}).get("private") or {}).get("calsync_type")
            == "busy_block"
        ]
        if blocks:
            cal, bid = self.rng.choice(blocks)
            self.sb.delete_as_person(cal, bid)

    def burst(self) -> None:
        """The person pastes a term's worth of events; the product's writes for them trip
        Google's usage limit on the home account (3 hours of sandbox clock)."""
        for i in range(15):
            self.new_event(self.cals["work"], f"Term {self.day}-{i}")
        self.sb.trip_usage_limit(BURST_ACCOUNT, timedelta(hours=3))

    # ---- one step ----------------------------------------------------------------------
    def act(self, step: int) -> Counter[str]:
        done: Counter[str] = Counter()
        names = list(self.cals.values())
        if step == 0:
            for i in range(6):
                self.new_event(self.rng.choice(names), f"Meeting {i}")
            self.new_series(self.cals["work"], "Standup", bounded=False)
            self.new_series(self.cals["home"], "Course", bounded=True)
            done.update({"new": 6, "series": 2})
            if "invitation" in self.hazards:
                self.invite(self.cals["work"], "Partner review")
                done["invitation"] += 1
            return done
        actions = [
            ("new", lambda: self.new_event(self.rng.choice(names), f"Event d{self.day}")),
            ("new", lambda: self.new_event(self.rng.choice(names), f"Call d{self.day}")),
            (
                "series_bounded",
                lambda: self.new_series(self.rng.choice(names), f"Run d{self.day}", bounded=True),
            ),
            (
                "series_unbounded",
                lambda: self.new_series(
                    self.rng.choice(names), f"Weekly d{self.day}", bounded=False
                ),
            ),
            ("move", self.move),
            ("rename", self.rename),
            ("flip", self.flip),
            ("decline", self.decline),
            ("delete_source", self.delete_source),
            ("delete_block", self.delete_block_by_hand),
            ("cancel_instance", self.cancel_instance),
            ("invitation", lambda: self.invite(self.rng.choice(names), f"Invite d{self.day}")),
        ]
        actions = [a for a in actions if a[0] not in ("invitation", "delete_block")] + [
            a for a in actions if a[0] in ("invitation", "delete_block") and a[0] in self.hazards
        ]
        for _ in range(self.rng.randint(3, 6)):
            name, fn = self.rng.choice(actions)
            try:
                fn()
                done[name] += 1
            except SandboxError as exc:  # e.g. a move onto a purged id: the person's slip
                self.errors.append(f"day {self.day} {name}: {exc}")
        if step % 4 == 3 and "purge" in self.hazards:
            done["purge"] += len(self.sb.purge_trash())
        return done

    def cycle(self) -> tuple[int, int]:
        """One `sync --once --json` in process: (exit code, failed mutations)."""
        root = self.world.home.root
        out, err = io.StringIO(), io.StringIO()
        before, t0 = self.sb.stats(), time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(
                ["sync", "--once", "--json", "--home", str(root), "--api-endpoint", self.sb.url]
            )
        self.last_cost = _cost(before, self.sb.stats(), time.monotonic() - t0)
        self.cycle_ms.append(self.last_cost["ms"])
        try:
            report = json.loads(out.getvalue())
            failed = int(report.get("failed", 0))
            for problem in report.get("errors") or []:
                if PAUSE_LINE not in str(problem):  # the pause is no failed mutation
                    self.failures[_reason(problem)] += 1
        except ValueError:
            failed = -1
        if rc != 0:
            self.errors.append(f"day {self.day}: rc {rc}: {err.getvalue()[-300:]}")
            said = err.getvalue() + out.getvalue()  # the one line, and the --json report
            self.last_paused = PAUSE_LINE in said and "writes paused until" in said
            self.pauses += self.last_paused
        return rc, failed

    def step(self, step: int, days: int, cycles: int = 1) -> StepResult:
        actions = self.act(step)
        if step and step % 7 == 0 and "burst" in self.hazards:
            self.burst()
            actions["burst"] += 1
        failed_cycles = failed_mut = 0
        paused = True
        cost: Counter[str] = Counter()
        for _ in range(cycles):
            self.last_paused = False
            rc, failed = self.cycle()
            cost += self.last_cost
            failed_cycles += rc != 0
            failed_mut += max(failed, 0)
            paused = paused and (rc == 0 or self.last_paused)
        violations = self.violations()
        locked = {c for c, account in self.owner.items() if account == BURST_ACCOUNT}
        locked |= {local for local, google in self.local_ids.items() if google in locked}
        result = StepResult(
            self.day,
            actions,
            failed_cycles,
            failed_mut,
            violations,
            self.touched(),
            paused=bool(failed_cycles) and paused and "burst" in actions,
            waits=sum(
                1 for v in self.last_violations if v.kind in PAUSE_WAITS and v.calendar in locked
            ),
            cost=cost,
        )
        self.advance(days)
        return result

    # ---- checks as Google shows them ---------------------------------------------------
    def truth(self, margin: int = 0, *, window: bool = True) -> dict[str, list[dict[str, Any]]]:
        """Each calendar's live events (singleEvents) in the product's window (shrunk by
        `margin` days at both ends), or all of them (`window=False`)."""
        now, s = self.now(), self.world.settings
        lo = (now - timedelta(days=s.window_days_back - margin)).strftime(FMT)
        hi = (now + timedelta(days=s.window_days_ahead - margin)).strftime(FMT)
        return {
            cal: [
                e
                for e in self.sb.events(
                    cal,
                    single_events=True,
                    time_min=lo if window else None,
                    time_max=hi if window else None,
                )
                if e.get("status") != "cancelled"
            ]
            for cal in self.cals.values()
        }

    def violations(self) -> Counter[str]:
        w = self.world
        ctx = AppContext(w.home, w.settings)
        try:
            truth = self.truth()
            w.ctx = ctx
            cals = w.enabled()
            self.local_ids = {str(c.id): c.google_id for c in cals if c.id is not None}
            out: list[Violation] = check_google(
                truth,
                writable={c.google_id for c in cals if c.access_role in ("owner", "writer")},
                installation_id=ctx.installation_id,
                settings=w.settings,
                now=self.now(),
                modes={c.google_id: EngineMode(c.engine_mode) for c in cals},
                owner_emails={cal: (cal, self.owner[cal]) for cal in truth},
            )
            with ctx.store.engine.connect() as conn:
                rows = [dict(r) for r in conn.execute(select(EventState.__table__)).mappings()]  # type: ignore[attr-defined]
            # Rows against Google: every live event well inside the window has a live row;
            # every live block row from the window's start on is on Google at all (its
            # time may be past the window's end). Behind the window's start the product
            # keeps history and lists nothing: a block there deleted by hand and purged
            # before the product read the deletion is reported by no listing (a purge
            # invalidates the sync token, 410, and the full listing that follows covers
            # the window: GOOGLE_FACTS "Incremental sync"), so its row may stay live.
            mine = [r for r in rows if r["calendar_id"] in {c.id for c in cals}]
            behind = self.now() - timedelta(days=w.settings.window_days_back)
            since = (behind, datetime.max.replace(tzinfo=UTC))
            inner, everything = self.truth(margin=1), self.truth(window=False)
            out += [
                v
                for v in check_state(
                    mine,
                    {c.id: (c.google_id, inner[c.google_id]) for c in cals if c.id is not None},
                )
                if v.detail != "block live in EventState, not on Google"
            ]
            out += [
                v
                for v in check_state(
                    mine,
                    {
                        c.id: (c.google_id, everything[c.google_id])
                        for c in cals
                        if c.id is not None
                    },
                    since,
                )
                if v.detail == "block live in EventState, not on Google"
            ]
        finally:
            ctx.close()
        self.last_violations = out
        return Counter(v.kind for v in out)

    def touched(self) -> int:
        """The person's events (masters and plain) whose own fields the product changed."""
        n = 0
        for cal in self.cals.values():
            stored = {e["id"]: e for e in self.sb.events(cal, include_cancelled=True)}
            for (c, eid), want in self.mine.items():
                if c != cal or eid not in stored:
                    continue
                have = {k: stored[eid].get(k) for k in KEPT}
                if have != want:
                    n += 1
        return n


def run_life(
    sb: SandboxServer,
    root: Path,
    *,
    seed: int,
    days: int,
    every: int = 3,
    cycles: int = 1,
    hazards: frozenset[str] = HAZARDS,
    expire_tokens_at: int | None = None,
) -> tuple[Life, list[StepResult]]:
    """Play `days` of life from 2027-01-04 08:00Z, a step every `every` days with
    `cycles` sync cycles each; the sandbox's and the product's clocks move together.
    `expire_tokens_at`: before that step every sync token answers 410 fullSyncRequired."""
    start = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
    sb.advance_clock(start - sb.now())
    clock.set_now(start)
    t0 = time.monotonic()
    life = Life(sb, root, seed, hazards)
    try:
        results = []
        step = 0
        while life.day < days:
            if step == expire_tokens_at:  # Google invalidates every sync token: 410
                sb.expire_sync_tokens()
            results.append(life.step(step, every, cycles))
            step += 1
        life.wall_seconds = time.monotonic() - t0
        return life, results
    finally:
        clock.reset()


_WRITE_METHODS = ("insert", "patch", "update", "delete")


def _cost(before: dict[str, Any], after: dict[str, Any], seconds: float) -> Counter[str]:
    """One cycle's cost from two sandbox snapshots (stats.py): API calls (quota units,
    batched or not), HTTP round trips, writes sent, writes Google applied, 403s."""

    def method_delta(m: str) -> int:
        return int(after["by_method"].get(m, 0)) - int(before["by_method"].get(m, 0))

    sent = sum(
        method_delta(m) for m in after["by_method"] if m.rsplit(".", 1)[-1] in _WRITE_METHODS
    )
    return Counter(
        {
            "api_calls": after["total"] - before["total"],
            "round_trips": after["round_trips"] - before["round_trips"],
            "writes_sent": sent,
            "writes_applied": after["writes"] - before["writes"],
            "refused_403": int(after["by_status"].get("403", 0))
            - int(before["by_status"].get("403", 0)),
            "ms": round(seconds * 1000),
            "cycles": 1,
        }
    )


def figures(life: Life, results: list[StepResult], every: int) -> dict[str, Any]:
    """The simulated-life figures (issue 15's note): per simulated day, mean and max (a
    step's cycles run once per `every` days, so a day's figure is its step's divided by
    `every`), failed cycles, the home's SQLite file at the end, wall time."""
    days = max(len(results) * every, 1)
    total: Counter[str] = Counter()
    for r in results:
        total += r.cost

    def per_day(key: str) -> dict[str, float]:
        return {
            "mean": round(total[key] / days, 1),
            "max": round(max((r.cost[key] for r in results), default=0) / every, 1),
        }

    db = life.world.home.db_path
    wal = db.with_name(db.name + "-wal")
    return {
        "days": days,
        "cycles": total["cycles"],
        "api_calls_per_day": per_day("api_calls"),
        "round_trips_per_day": per_day("round_trips"),
        "writes_sent_per_day": per_day("writes_sent"),
        "writes_applied_per_day": per_day("writes_applied"),
        "api_calls_total": total["api_calls"],
        "writes_sent_total": total["writes_sent"],
        "refused_403_total": total["refused_403"],
        "cycles_failed": sum(r.cycles_failed for r in results),
        "cycles_paused": life.pauses,
        "cycle_ms_mean": round(total["ms"] / max(total["cycles"], 1)),
        "cycle_ms_max": max(life.cycle_ms, default=0),
        "db_bytes": db.stat().st_size if db.exists() else 0,
        "db_wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "wall_seconds": round(life.wall_seconds, 1),
    }


def summary(life: Life, results: list[StepResult], every: int = 3) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    for r in results:
        kinds.update(r.violations)
    return {
        "failed_by_reason": dict(life.failures),
        "steps": len(results),
        "steps_clean": sum(r.clean() for r in results),
        "cycles_failed": sum(r.cycles_failed for r in results),
        "failed_mutations": sum(r.failed_mutations for r in results),
        "missing_blocks_per_step": [r.missing for r in results],
        "violations": dict(kinds),
        "touched": sum(r.touched for r in results),
        "figures": figures(life, results, every),
    }


def _reason(err: Any) -> str:
    """A failed mutation's error, reduced to its kind ('403 forbiddenForNonOrganizer')."""
    text = json.dumps(err) if not isinstance(err, str) else err
    for reason in (
        "forbiddenForNonOrganizer",
        "quotaExceeded",
        "rateLimitExceeded",
        "duplicate",
        "notFound",
        "deleted",
        "forbidden",
        "invalid",
    ):
        if reason in text:
            return reason
    return text[:80]
