"""SQLModel tables. Changing any of them needs an Alembic revision in `alembic/versions`.

Times are stored as timezone-aware UTC datetimes for bookkeeping; event start/end are
stored as Google gives them (RFC 3339 `dateTime` or `date` string) plus a UTC sort key,
so all-day-ness and time zones survive the round trip.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from calsync_tui import clock


def utcnow() -> datetime:
    return clock.now()


# --- enumerations kept as plain strings (portable, readable in sqlite3) -----------------

EVENT_TYPES = ("user_event", "busy_block")
STATUSES = ("creating", "created", "synced", "failed", "deleted")
MUTATION_STATUSES = ("pending", "done", "failed", "undone", "skipped", "refused", "replaced")
ENGINE_MODES = ("legacy", "hybrid", "uuid")


class Account(SQLModel, table=True):
    """A Google account the user signed in with (or a static sandbox token)."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True)
    auth_kind: str = "oauth"  # oauth | static
    scopes: str = ""
    needs_signin: bool = False
    signin_error: str | None = None
    # Google's usage limit (403 quotaExceeded): no writes until this time, then one probe
    # write per cycle; `lockout_level` counts trips in a row (an hour, doubling, capped at
    # a day). Both cleared by the first write that succeeds.
    writes_paused_until: datetime | None = None
    lockout_level: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Calendar(SQLModel, table=True):
    """A calendar as one account sees it. `enabled` opts it into mirroring."""

    __table_args__ = (
        UniqueConstraint("account_id", "google_id", name="uq_calendar_account_google"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    google_id: str = Field(index=True)
    summary: str = ""
    time_zone: str = "UTC"
    access_role: str = "reader"  # owner | writer | reader | freeBusyReader
    primary: bool = False
    enabled: bool = False
    engine_mode: str = "uuid"  # legacy | hybrid | uuid (per calendar, for gradual rollout)
    sync_token: str | None = None
    last_synced_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class EventState(SQLModel, table=True):
    """One Google event on one enabled calendar, as last seen, with its class and lineage.

    `correlation_id` is assigned locally at first sight; `stamped` says whether Google's
    copy already carries it in `extendedProperties.private.calsync_id`.
    """

    __table_args__ = (
        UniqueConstraint("calendar_id", "google_event_id", name="uq_eventstate_calendar_event"),
        Index("ix_eventstate_source", "source_correlation_id"),
        Index("ix_eventstate_status", "status"),
        Index("ix_eventstate_class", "calendar_id", "event_class"),
        # Event table pages ordered by start within a calendar (fast at 50k rows).
        Index("ix_eventstate_calendar_start", "calendar_id", "start_utc", "correlation_id"),
    )

    correlation_id: str = Field(primary_key=True)
    calendar_id: int = Field(foreign_key="calendar.id", index=True)
    google_event_id: str
    event_type: str = "user_event"  # user_event | busy_block
    event_class: str = "new_user_event"  # see calsync_tui.engine.model.EventClass
    created_by_us: bool = False
    stamped: bool = False
    source_correlation_id: str | None = None
    status: str = "synced"  # creating | created | synced | failed | deleted
    recurring_event_id: str | None = None
    # iCalUID (plus "|originalStartTime" for an instance): copies of the same meeting on
    # other calendars share it, so the engine mirrors a meeting once, not once per copy.
    ical_key: str | None = Field(default=None, index=True)
    summary: str = ""
    title_hash: str = ""
    start: str = ""  # RFC 3339 dateTime or yyyy-mm-dd
    end: str = ""
    start_utc: datetime | None = None
    all_day: bool = False
    time_zone: str | None = None
    etag: str | None = None
    google_updated: str | None = None
    error: str | None = None
    # Busy blocks: which generation of the block's event id is in use (0 = the id derived
    # from the correlation id alone; see calsync_tui.writes.ids).
    generation: int = 0
    # A write Google refused for good (reason as Google gave it), remembered against the
    # version of the event it was refused for (Google's `updated`, else the etag): not
    # sent again until the event changes on Google's side.
    refusal_reason: str | None = None
    refusal_version: str | None = None
    refused_at: datetime | None = None
    last_seen: datetime | None = None
    # Another installation's markers (class external_calsync only; None otherwise): its
    # `calsync_instance`, `calsync_type`, `calsync_id` (an instance's own id for one
    # instance of a series) and `calsync_source`. Read by `engine.foreign` (adoption).
    foreign_instance: str | None = None
    foreign_type: str | None = None
    foreign_id: str | None = None
    foreign_source: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Mutation(SQLModel, table=True):
    """Write-ahead journal: one planned Google write, recorded `pending` before the call.

    One shape for every origin (see calsync_tui.writes.record): `before_json` the event's
    full prior state (for rollback level 2), `after_json` the body sent, `result_json`
    Google's answer, `adopted` whether Google was already in that state, `gateway_op`
    the call sent; `undoes_json` (rollback) the rows a restore undoes.
    """

    __table_args__ = (
        Index("ix_mutation_plan", "plan_id", "seq"),
        Index("ix_mutation_status", "status"),
        Index("ix_mutation_correlation", "correlation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: str
    seq: int = 0
    origin: str = "sync"  # sync | migration | cutover | rollback
    op: str  # insert | patch | delete | stamp | retitle | restore
    gateway_op: str = ""  # insert | patch | update | delete (the call sent)
    calendar_id: int = Field(foreign_key="calendar.id")
    google_event_id: str
    correlation_id: str | None = None
    source_correlation_id: str | None = None
    reason: str = ""
    before_json: str | None = None
    after_json: str | None = None
    result_json: str | None = None
    adopted: bool = False
    undoes_json: str | None = None
    status: str = "pending"  # pending | done | failed | undone | skipped | refused | replaced
    attempts: int = 0
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class MigrationState(SQLModel, table=True):
    """Singleton row (id=1): phase, gate results and history of the migration.

    Per-calendar engine mode lives on `Calendar.engine_mode`; this row holds the rest.
    """

    id: int = Field(default=1, primary_key=True)
    phase: int = 0  # 0 discover .. 4 cutover
    gates_json: str = "{}"
    history_json: str = "[]"
    rollout_percent: int = 0
    legacy_detection: bool = True
    paused: bool = False
    active_plan_id: str | None = None
    approved_plan_id: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class SyncRun(SQLModel, table=True):
    """Metrics of one sync cycle (or migration step)."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = "sync"  # sync | dry_run | discover | backfill | cutover | rollback
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    duration_ms: float = 0.0
    events_seen: int = 0
    classes_json: str = "{}"
    mutations_json: str = "{}"
    api_calls: int = 0
    api_round_trips: int = 0
    cascades: int = 0
    stuck: int = 0
    failed: int = 0
    success_rate: float = 1.0
    latency_ms: float | None = None
    error: str | None = None


class Alert(SQLModel, table=True):
    """Something the user must see: cascade detected, auto-rollback, sign-in needed."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    level: str = "warning"  # info | warning | error
    kind: str = ""
    message: str = ""
    calendar_id: int | None = None
    acknowledged: bool = False
