"""Unit tests for the pure classifier: every class of DESIGN section 3, in every mode."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from calsync_tui.engine.classify import (
    ClassifyContext,
    classify,
    is_cascade_title,
    legacy_suffix,
)
from calsync_tui.engine.model import (
    EngineMode,
    EventClass,
    instance_correlation_id,
    unstamped_correlation_id,
)

ME = "11111111-1111-4111-8111-111111111111"
OTHER = "22222222-2222-4222-8222-222222222222"
CID = "33333333-3333-4333-8333-333333333333"
SRC = "44444444-4444-4444-8444-444444444444"
CAL = "me@example.com"


def ctx(mode: EngineMode = EngineMode.UUID, **kw: Any) -> ClassifyContext:
    return ClassifyContext(
        installation_id=ME,
        calendar_google_id=CAL,
        mode=mode,
        owner_emails=frozenset({CAL}),
        window_start=datetime(2030, 1, 1, tzinfo=UTC),
        window_end=datetime(2030, 4, 1, tzinfo=UTC),
        **kw,
    )


def ev(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "e1",
        "status": "confirmed",
        "summary": "Standup",
        "start": {"dateTime": "2030-01-10T09:00:00+01:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2030-01-10T09:30:00+01:00", "timeZone": "Europe/Paris"},
    }
    base.update(kw)
    return base


def props(**kw: str) -> dict[str, Any]:
    return {"extendedProperties": {"private": kw}}


ALL_MODES = list(EngineMode)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_new_user_event_gets_deterministic_id(mode: EngineMode) -> None:
    c = classify(ev(), ctx(mode))
    assert c.event_class == EventClass.NEW_USER_EVENT
    assert c.correlation_id == unstamped_correlation_id(CAL, "e1")
    assert c.stamp_event_id == "e1" and not c.stamped


@pytest.mark.parametrize("mode", ALL_MODES)
def test_tracked_user_event(mode: EngineMode) -> None:
    e = ev(**props(calsync_id=CID, calsync_type="user_event", calsync_v="1", calsync_instance=ME))
    c = classify(e, ctx(mode))
    assert c.event_class == EventClass.TRACKED_USER_EVENT
    assert c.correlation_id == CID and c.stamped


@pytest.mark.parametrize("mode", ALL_MODES)
def test_our_block_is_never_a_source_in_any_mode(mode: EngineMode) -> None:
    e = ev(
        summary="Busy - Standup",
        **props(
            calsync_id=CID,
            calsync_type="busy_block",
            calsync_source=SRC,
            calsync_v="1",
            calsync_instance=ME,
        ),
    )
    c = classify(e, ctx(mode))
    assert c.event_class == EventClass.BUSY_BLOCK
    assert c.source_correlation_id == SRC and not c.is_source


def test_orphaned_block_when_source_not_live() -> None:
    e = ev(
        **props(calsync_id=CID, calsync_type="busy_block", calsync_source=SRC, calsync_instance=ME)
    )
    assert classify(e, ctx(live_source_ids=frozenset())).event_class == EventClass.ORPHANED_BLOCK
    assert classify(e, ctx(live_source_ids=frozenset({SRC}))).event_class == EventClass.BUSY_BLOCK


@pytest.mark.parametrize("mode", ALL_MODES)
def test_external_calsync_never_touched(mode: EngineMode) -> None:
    e = ev(
        **props(
            calsync_id=CID, calsync_type="busy_block", calsync_source=SRC, calsync_instance=OTHER
        )
    )
    assert classify(e, ctx(mode)).event_class == EventClass.EXTERNAL_CALSYNC


@pytest.mark.parametrize(
    ("title", "mode", "expected"),
    [
        ("🔒 Busy - Standup", EngineMode.LEGACY, EventClass.LEGACY_BUSY_BLOCK),
        ("  📅  Busy -   Standup ", EngineMode.HYBRID, EventClass.LEGACY_BUSY_BLOCK),
        ("🗓️ Busy - Lunch", EngineMode.LEGACY, EventClass.LEGACY_BUSY_BLOCK),
        ("🔒 Busy - Standup", EngineMode.UUID, EventClass.IGNORED),  # cascade guard
        ("Busy with kids", EngineMode.LEGACY, EventClass.NEW_USER_EVENT),
    ],
)
def test_legacy_detection_by_mode(title: str, mode: EngineMode, expected: EventClass) -> None:
    assert classify(ev(summary=title), ctx(mode)).event_class == expected


def test_legacy_cascade_and_custom_markers() -> None:
    markers = ("🔒", "[X]")
    assert is_cascade_title("🔒 Busy - 🔒 Busy - Standup", markers)
    assert not is_cascade_title("🔒 Busy - Standup", markers)
    assert legacy_suffix("[X] Busy - Plan", markers) == "Plan"
    c = classify(
        ev(summary="🔒 Busy - [X] Busy - A"), ctx(EngineMode.LEGACY, legacy_markers=markers)
    )
    assert c.event_class == EventClass.LEGACY_BUSY_BLOCK and c.cascade
    # Hybrid: properties win over the title.
    e = ev(
        summary="🔒 Busy - A",
        **props(calsync_id=CID, calsync_type="user_event", calsync_instance=ME),
    )
    assert classify(e, ctx(EngineMode.HYBRID)).event_class == EventClass.TRACKED_USER_EVENT


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"transparency": "transparent"}, "free"),
        ({"status": "cancelled"}, "cancelled"),
        ({"eventType": "outOfOffice"}, "eventType"),
        ({"eventType": "workingLocation"}, "eventType"),
        ({"eventType": "focusTime"}, "eventType"),
        ({"attendees": [{"email": CAL, "responseStatus": "declined"}]}, "declined"),
        ({"attendees": [{"email": "x@y", "self": True, "responseStatus": "declined"}]}, "declined"),
        (
            {"start": {"date": "2031-01-01"}, "end": {"date": "2031-01-02"}},
            "outside the window",
        ),
    ],
)
def test_ignored(change: dict[str, Any], reason: str) -> None:
    c = classify(ev(**change), ctx())
    assert c.event_class == EventClass.IGNORED
    assert reason in c.reason


def test_not_ignored_when_someone_else_declined_or_type_allowed() -> None:
    e = ev(
        attendees=[
            {"email": "x@y", "responseStatus": "declined"},
            {"email": CAL, "responseStatus": "accepted"},
        ]
    )
    assert classify(e, ctx()).event_class == EventClass.NEW_USER_EVENT
    e2 = ev(eventType="focusTime")
    assert classify(e2, ctx(ignored_event_types=())).event_class == EventClass.NEW_USER_EVENT


@pytest.mark.parametrize(
    "bad",
    [
        {"start": None},
        {"end": {"dateTime": "2030-01-10T08:00:00+01:00"}},  # end before start
        {"start": {"dateTime": "not a time"}},
        {"start": {"date": "2030-01-10"}},  # mixes date and dateTime
        {"extendedProperties": "garbage"},
        {"extendedProperties": {"private": {"calsync_id": 5}}},
        props(calsync_id="not-a-uuid", calsync_type="user_event", calsync_instance=ME),
        props(calsync_id=CID, calsync_type="weird", calsync_instance=ME),
        props(calsync_id=CID, calsync_type="busy_block", calsync_instance=ME),  # no source
        props(calsync_id=CID, calsync_type="user_event"),  # no instance
    ],
)
def test_error_on_malformed(bad: dict[str, Any]) -> None:
    c = classify(ev(**bad), ctx())
    assert c.event_class == EventClass.ERROR and c.reason


def test_error_without_id() -> None:
    assert classify({"summary": "x"}, ctx()).event_class == EventClass.ERROR


def test_all_day_event_is_source() -> None:
    c = classify(ev(start={"date": "2030-01-10"}, end={"date": "2030-01-11"}), ctx())
    assert c.event_class == EventClass.NEW_USER_EVENT


def test_recurring_instance_identity_stamps_master() -> None:
    inst = ev(
        id="m1_20300110T080000Z",
        recurringEventId="m1",
        originalStartTime={"dateTime": "2030-01-10T09:00:00+01:00", "timeZone": "Europe/Paris"},
    )
    c = classify(inst, ctx())
    series = unstamped_correlation_id(CAL, "m1")
    assert c.stamp_event_id == "m1" and c.stamp_id == series
    assert c.correlation_id == instance_correlation_id(series, "2030-01-10T08:00:00+00:00")
    # A moved exception keeps its identity (original start), and inherits stamped props.
    moved = dict(
        inst,
        start={"dateTime": "2030-01-10T15:00:00+01:00"},
        end={"dateTime": "2030-01-10T16:00:00+01:00"},
    )
    moved.update(props(calsync_id=series, calsync_type="user_event", calsync_instance=ME))
    c2 = classify(moved, ctx())
    assert c2.event_class == EventClass.TRACKED_USER_EVENT and c2.correlation_id == c.correlation_id
    # Other instances differ.
    other = dict(inst, id="m1_b", originalStartTime={"dateTime": "2030-01-11T08:00:00Z"})
    assert classify(other, ctx()).correlation_id != c.correlation_id
