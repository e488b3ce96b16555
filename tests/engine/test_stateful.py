"""Hypothesis stateful test: random user actions interleaved with sync cycles.

After every cycle, on Google's side (sandbox truth read through the API): 0 cascades,
exactly one block per (source instance, target), no block without a live source; and
locally: no `creating` left, EventState agrees with Google.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from calsync_tui.sandbox.server import SandboxServer
from tests.engine.world import World, iter_blocks, when

TITLES = st.sampled_from(["Standup", "Dentist", "1:1", "Lunch", "🔒 Busy - Fake", "Busy - Dentist"])
CHECKS: list[int] = []
DAYS = st.integers(min_value=0, max_value=20)
HOURS = st.integers(min_value=6, max_value=20)


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="calsync-stateful-"))
        self.sb = SandboxServer(quota_per_user=None, quota_per_project=None).start()
        self.w = World(self.sb, self.tmp, requests_per_minute=10_000)
        self.synced = False
        self.checks = 0

    @initialize()
    def setup(self) -> None:
        ann = self.w.user("ann@example.com")
        bob = self.w.user("bob@example.com")
        self.cals = [
            self.w.calendar(ann, "Work", cal_id=ann),
            self.w.calendar(ann, "Personal", tz="Europe/Paris"),
            self.w.calendar(bob, "Side", cal_id=bob, tz="America/New_York"),
        ]
        self.reader = self.w.calendar("boss@example.com", "Team")
        self.sb.share(self.reader, ann, "reader")
        self.w.enable(*self.cals, self.reader)
        self.enabled = set(self.cals)

    def teardown(self) -> None:
        CHECKS.append(self.checks)
        self.w.close()
        self.sb.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- helpers ------------------------------------------------------------------------

    def user_events(self, cal: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.sb.events(cal)
            if (e.get("extendedProperties") or {}).get("private", {}).get("calsync_type")
            != "busy_block"
        ]

    def pick(self, data: st.DataObject, items: list[Any]) -> Any:
        return data.draw(st.sampled_from(items)) if items else None

    # --- user actions -------------------------------------------------------------------

    @rule(
        cal=st.integers(0, 3),
        title=TITLES,
        day=DAYS,
        hour=HOURS,
        kind=st.sampled_from(["timed", "allday", "daily3"]),
    )
    def create(self, cal: int, title: str, day: int, hour: int, kind: str) -> None:
        cal_id = ([*self.cals, self.reader])[cal]
        if kind == "allday":
            s, e = when(day, hours=0, length_min=24 * 60)
            self.w.put(
                cal_id, title, start={"date": s["dateTime"][:10]}, end={"date": e["dateTime"][:10]}
            )
        elif kind == "daily3":
            s, e = when(day, hours=hour, tz="Europe/Paris")
            self.w.put(cal_id, title, start=s, end=e, recurrence=["RRULE:FREQ=DAILY;COUNT=3"])
        else:
            s, e = when(day, hours=hour, length_min=45)
            self.w.put(cal_id, title, start=s, end=e)

    @rule(data=st.data(), day=DAYS, hour=HOURS)
    def move(self, data: st.DataObject, day: int, hour: int) -> None:
        cal = self.pick(data, [*self.cals, self.reader])
        ev = self.pick(
            data,
            [
                e
                for e in self.user_events(cal)
                if "dateTime" in e.get("start", {}) and not e.get("recurrence")
            ],
        )
        if ev is not None:
            s, e = when(day, hours=hour, length_min=30)
            self.sb.patch_event(cal, ev["id"], {"start": s, "end": e})

    @rule(data=st.data(), title=TITLES)
    def retitle(self, data: st.DataObject, title: str) -> None:
        cal = self.pick(data, self.cals)
        ev = self.pick(data, self.user_events(cal))
        if ev is not None:
            self.sb.patch_event(cal, ev["id"], {"summary": title})

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        cal = self.pick(data, [*self.cals, self.reader])
        ev = self.pick(data, self.user_events(cal))
        if ev is not None:
            self.sb.delete_event(cal, ev["id"])

    @rule(data=st.data(), how=st.sampled_from(["decline", "free", "busy"]))
    def respond(self, data: st.DataObject, how: str) -> None:
        cal = self.pick(data, self.cals)
        ev = self.pick(data, self.user_events(cal))
        if ev is None:
            return
        if how == "decline":
            self.sb.patch_event(
                cal, ev["id"], {"attendees": [{"email": cal, "responseStatus": "declined"}]}
            )
        else:
            self.sb.patch_event(
                cal, ev["id"], {"transparency": "transparent" if how == "free" else "opaque"}
            )

    @rule(data=st.data(), edit=st.booleans())
    def touch_block(self, data: st.DataObject, edit: bool) -> None:
        cal = self.pick(data, self.cals)
        blk = self.pick(data, list(iter_blocks(self.sb.events(cal))))
        if blk is None:
            return
        if edit:
            self.sb.patch_event(
                cal, blk["id"], {"summary": "renamed by hand", "visibility": "default"}
            )
        else:
            self.sb.delete_event(cal, blk["id"])

    @rule(data=st.data())
    def toggle(self, data: st.DataObject) -> None:
        cal = self.pick(data, self.cals)
        if cal in self.enabled and len(self.enabled) > 1:
            self.w.disable(cal)
            self.enabled.discard(cal)
        elif cal not in self.enabled:
            self.w.enable(cal)
            self.enabled.add(cal)

    @rule()
    def sync(self) -> None:
        report = self.w.sync()
        assert report.failed == 0, report.errors
        assert report.stuck == 0
        self.synced = True

    @precondition(lambda self: self.synced)
    @invariant()
    def invariants_hold_after_a_cycle(self) -> None:
        self.w.assert_ok()
        self.checks += 1
        self.synced = False


SyncMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("CALSYNC_STATEFUL_EXAMPLES", "15")),
    stateful_step_count=int(os.environ.get("CALSYNC_STATEFUL_STEPS", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestSyncMachine = SyncMachine.TestCase


def test_invariants_were_checked() -> None:
    """Guard against a vacuous run: the machine above did check after cycles."""
    assert CHECKS and sum(CHECKS) > 0


@pytest.mark.campaign
@pytest.mark.timeout(4 * 3600)  # hundreds of random histories: far past the suite's 300 s
def test_stateful_campaign() -> None:
    """`make campaign`: many more random histories, longer ones."""
    run_state_machine_as_test(
        SyncMachine,
        settings=settings(
            max_examples=int(os.environ.get("CALSYNC_CAMPAIGN_EXAMPLES", "300")),
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
