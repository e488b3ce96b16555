"""Property: a client that mirrors a calendar with one full listing and then only
incremental listings (sync tokens, short pages) always holds exactly the server's truth."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync_tui.sandbox.client import service_for
from calsync_tui.sandbox.server import SandboxServer
from tests.sandbox.helpers import ALICE, list_all

WINDOW = {"timeMin": "2026-12-01T00:00:00Z", "timeMax": "2026-12-20T00:00:00Z"}
SERIES = "series0001"

ops = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.integers(1, 18), st.integers(6, 20)),
        st.tuples(st.just("patch"), st.integers(0, 30), st.integers(1, 18)),
        st.tuples(st.just("delete"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("instance_patch"), st.integers(1, 10), st.just(0)),
        st.tuples(st.just("instance_delete"), st.integers(1, 10), st.just(0)),
        st.tuples(st.just("series_patch"), st.just(0), st.just(0)),
        st.tuples(st.just("sync"), st.just(0), st.just(0)),
    ),
    max_size=25,
)


def at(day: int, hour: int) -> dict[str, Any]:
    return {
        "start": {"dateTime": f"2026-12-{day:02d}T{hour:02d}:00:00Z"},
        "end": {"dateTime": f"2026-12-{day:02d}T{hour:02d}:30:00Z"},
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=ops, short=st.sampled_from([0.0, 0.5]))
def test_incremental_mirror_equals_truth(script: list[tuple[str, int, int]], short: float) -> None:
    with SandboxServer(quota_per_user=None) as srv:
        srv.add_user(ALICE, "t")
        cal = srv.create_calendar(ALICE, "A", "UTC", ALICE)
        srv.put_event(
            cal,
            {
                "id": SERIES,
                "summary": "daily",
                "start": {"dateTime": "2026-12-01T08:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-12-01T08:15:00", "timeZone": "UTC"},
                "recurrence": ["RRULE:FREQ=DAILY;COUNT=12"],
            },
        )
        svc = service_for(srv.url, "t")
        srv.set_faults(f"short_pages={short},seed=5")
        items, token, _ = list_all(svc, cal, singleEvents=True, maxResults=4, **WINDOW)
        mirror = {e["id"]: e for e in items}
        ids: list[str] = []

        def sync() -> None:
            nonlocal token
            delta, token, _ = list_all(svc, cal, singleEvents=True, maxResults=4, syncToken=token)
            for e in delta:
                if e["status"] == "cancelled":
                    mirror.pop(e["id"], None)
                else:
                    mirror[e["id"]] = e

        for op, a, b in script:
            live_ids = {e["id"] for e in srv.events(cal, copy=False)}
            live = [i for i in ids if i in live_ids]
            if op == "insert":
                ids.append(
                    svc.events()
                    .insert(calendarId=cal, body={"summary": f"e{a}", **at(a, b)})
                    .execute()["id"]
                )
            elif op == "patch" and live:
                svc.events().patch(
                    calendarId=cal, eventId=live[a % len(live)], body=at(b, 12)
                ).execute()
            elif op == "delete" and live:
                svc.events().delete(calendarId=cal, eventId=live[a % len(live)]).execute()
            elif op in ("instance_patch", "instance_delete"):
                iid = f"{SERIES}_202612{a:02d}T080000Z"
                current = svc.events().get(calendarId=cal, eventId=iid).execute()
                if op == "instance_patch":
                    svc.events().patch(
                        calendarId=cal,
                        eventId=iid,
                        body={"summary": "moved", "status": "confirmed"},
                    ).execute()
                elif current["status"] != "cancelled":
                    svc.events().delete(calendarId=cal, eventId=iid).execute()
            elif op == "series_patch":
                svc.events().patch(
                    calendarId=cal, eventId=SERIES, body={"description": "d"}
                ).execute()
            elif op == "sync":
                sync()
        sync()
        srv.set_faults(None)
        truth = {e["id"]: e for e in list_all(svc, cal, singleEvents=True, **WINDOW)[0]}
        assert set(mirror) == set(truth)
        for eid, e in truth.items():
            assert mirror[eid]["etag"] == e["etag"] or mirror[eid] == e, eid
            assert mirror[eid].get("summary") == e.get("summary")
            assert mirror[eid]["start"] == e["start"]
