"""Domain vocabulary shared by engine, migration, CLI and UI (DESIGN.md sections 1-3)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from calsync_tui.writes.ids import event_id_for

# The journal's vocabulary (kinds of write, row statuses) belongs to the write path.
from calsync_tui.writes.record import MutationStatus as MutationStatus
from calsync_tui.writes.record import Op as Op

# extendedProperties.private keys (DESIGN.md section 2). Keys stay under Google's 44 chars.
KEY_ID = "calsync_id"
KEY_TYPE = "calsync_type"
KEY_SOURCE = "calsync_source"
KEY_VERSION = "calsync_v"
KEY_INSTANCE = "calsync_instance"
SCHEMA_VERSION = "1"

# Namespace for deterministic ids (uuid5) so a block's id is the same after a crash or DB loss.
CALSYNC_NAMESPACE = uuid.UUID("6f1b7c2e-9a7d-4f1e-8a53-2f0c8e4b9d11")


class EventClass(StrEnum):
    TRACKED_USER_EVENT = "tracked_user_event"
    NEW_USER_EVENT = "new_user_event"
    BUSY_BLOCK = "busy_block"
    LEGACY_BUSY_BLOCK = "legacy_busy_block"
    EXTERNAL_CALSYNC = "external_calsync"
    ORPHANED_BLOCK = "orphaned_block"
    IGNORED = "ignored"
    ERROR = "error"


SOURCE_CLASSES = frozenset({EventClass.TRACKED_USER_EVENT, EventClass.NEW_USER_EVENT})


class EngineMode(StrEnum):
    LEGACY = "legacy"
    HYBRID = "hybrid"
    UUID = "uuid"


class EventType(StrEnum):
    USER_EVENT = "user_event"
    BUSY_BLOCK = "busy_block"


class Status(StrEnum):
    CREATING = "creating"
    CREATED = "created"
    SYNCED = "synced"
    FAILED = "failed"
    DELETED = "deleted"


def block_correlation_id(source_key: str, target_calendar_google_id: str) -> str:
    """Deterministic correlation id of the busy block mirroring `source_key` on a target.

    `source_key` is the source's correlation id, or `"{series_cid}:{originalStartTime}"`
    for one instance of a recurring series.
    """
    return str(uuid.uuid5(CALSYNC_NAMESPACE, f"{source_key}|{target_calendar_google_id}"))


def google_event_id_for(correlation_id: str, generation: int = 0) -> str:
    """Client-supplied Google event id of a block: the UUID's hex (0-9a-f is valid
    base32hex), plus `g<n>` from generation 1 on (the id was lost; see writes.ids)."""
    return event_id_for(correlation_id, generation)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def unstamped_correlation_id(calendar_google_id: str, google_event_id: str) -> str:
    """Correlation id the engine gives a source that carries no `calsync_id` yet.

    Deterministic (uuid5 of calendar + event id) so a crash between assigning it and
    stamping it on Google, or a lost DB, can never give the same event two ids.
    """
    return str(uuid.uuid5(CALSYNC_NAMESPACE, f"event|{calendar_google_id}|{google_event_id}"))


def instance_correlation_id(series_correlation_id: str, original_start: str) -> str:
    """Correlation id of one instance of a recurring series: uuid5 of the documented
    source key `"{series_cid}:{originalStartTime}"`. Busy blocks of an instance use it as
    their `calsync_source` and as the `source_key` of `block_correlation_id`.
    """
    return str(uuid.uuid5(CALSYNC_NAMESPACE, f"{series_correlation_id}:{original_start}"))
