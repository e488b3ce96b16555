"""Plans and previews as a reviewer reads them: what the plan review, the rollback and
cutover confirmations and the CLI dry runs show.

One shape, `PlanLine`, for every write a person is asked to approve: the calendar, when
the event starts (as the person reads it; an all-day event as a date), its title in full,
what changes (before → after, field by field), the reason in full; ids come last. It is
filled from the plan (`migration.planner.PlannedWrite`: its `before` and `body`) or from
a rollback's undo steps, and rendered by `plan_table` (the console) and `write_text`
(the CLI's dry runs: `sync --dry-run`, `migrate backfill --dry-run`, `migrate cutover
--dry-run`, `migrate rollback --level 2 --dry-run`). A sync cycle's writes
(`engine.plan.PlannedMutation`) become the same lines (`mutation_line`).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync_tui.engine.plan import PlannedMutation
from calsync_tui.google.types import GoogleEvent
from calsync_tui.migration.plan_file import MigrationPlan
from calsync_tui.migration.planner import (
    FieldChange,
    PlannedWrite,
    event_start,
    event_title,
    field_changes,
    write_kind,
)
from calsync_tui.migration.results import CutoverPreview
from calsync_tui.migration.rollback import RollbackPreview, UndoStep

MAX_STEPS = 12
NONE = "—"  # an absent value, in a change
ARROW = "→"

# The words a person reads for an event's fields (the rest keep Google's names).
FIELD_WORDS = {"summary": "title", "start": "start", "end": "end", "status": "status", "id": "id"}
# Our properties whose values are ids: shown short (the full id is in --json).
_ID_KEYS = ("private.calsync_id", "private.calsync_source", "private.calsync_instance")
# What an undo step does, in the plan's words.
UNDO_OPS = {"patch": "restore", "update": "restore", "insert": "re-create", "delete": "delete"}


@dataclass(frozen=True)
class Change:
    """One field a write changes, as text: `title: "Busy" → "Busy - Standup"`."""

    field: str
    before: str
    after: str

    def text(self) -> str:
        return f"{self.field}: {self.before} {ARROW} {self.after}"


@dataclass(frozen=True)
class PlanLine:
    """One planned write, as a person reviews it (the CLI and the console alike)."""

    seq: int
    calendar: str  # the name the person knows the calendar by
    op: str
    google_event_id: str
    correlation_id: str | None
    reason: str  # in full
    title: str  # in full
    when: str = ""  # the event's start: "2026-11-25 21:45", an all-day one "2026-11-26"
    start: str = ""  # the same, sortable (ISO)
    all_day: bool = False
    changes: tuple[Change, ...] = ()
    calendar_id: str = ""  # Google's id of the calendar
    new_id: str | None = None  # a rollback re-creates the event under this id
    conflict: str | None = None  # a rollback step kept as is (edited since)

    @property
    def change_text(self) -> str:
        """Every change, `; `-separated (`(no change)` when there is none)."""
        return "; ".join(c.text() for c in self.changes) or "(no change)"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "calendar": self.calendar,
            "calendar_id": self.calendar_id,
            "op": self.op,
            "when": self.when,
            "all_day": self.all_day,
            "title": self.title,
            "changes": [
                {"field": c.field, "before": c.before, "after": c.after} for c in self.changes
            ],
            "reason": self.reason,
            "event_id": self.google_event_id,
            "correlation_id": self.correlation_id,
            "new_id": self.new_id,
            "conflict": self.conflict,
        }


@dataclass
class PlanView:
    """A plan reduced to what the reviewer needs: totals per calendar and every write."""

    plan_id: str
    lines: list[PlanLine]
    api_calls: int
    round_trips: int
    path: Path | None = None  # the saved plan file the backfill executes
    totals: dict[str, Counter[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.totals:
            for line in self.lines:
                self.totals.setdefault(line.calendar, Counter())[line.op] += 1


@dataclass(frozen=True)
class Review:
    """A confirmation's text and the writes it would make (the rollback dialog)."""

    lines: list[str]
    writes: list[PlanLine]


# --- values as a person reads them ------------------------------------------------------


def when_text(start: Mapping[str, Any] | None) -> tuple[str, str, bool]:
    """(shown, sortable, all-day) of a Google start: an all-day event as its date; a timed
    one in its own time zone (else its offset), minutes precision."""
    if not start:
        return "", "", False
    if start.get("date"):
        raw = str(start["date"])
        try:
            return date.fromisoformat(raw).isoformat(), raw, True
        except ValueError:
            return raw, raw, True
    raw = str(start.get("dateTime") or "")
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return raw, raw, False
    tz = start.get("timeZone")
    if isinstance(tz, str) and tz and at.tzinfo is not None:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            at = at.astimezone(ZoneInfo(tz))
    return at.strftime("%Y-%m-%d %H:%M"), at.isoformat(), False


def short_id(value: str) -> str:
    """An id as a reviewer compares it: its first 8 characters."""
    return value if len(value) <= 9 else value[:8] + "…"


def value_text(field_name: str, value: Any) -> str:
    """One value of a change: titles quoted in full, times as `when_text`, ids short."""
    if value is None:
        return NONE
    if field_name in ("summary", "description"):
        return json.dumps(str(value), ensure_ascii=False)
    if field_name in ("start", "end") and isinstance(value, dict):
        shown, _, all_day = when_text(value)
        return shown + (" (all day)" if all_day else "")
    if field_name in _ID_KEYS and isinstance(value, str):
        return short_id(value)
    if isinstance(value, str):
        return value
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 60 else text[:59] + "…"


def changes_of(raw: Sequence[FieldChange]) -> tuple[Change, ...]:
    return tuple(
        Change(
            FIELD_WORDS.get(c.field, c.field),
            value_text(c.field, c.before),
            value_text(c.field, c.after),
        )
        for c in raw
    )


def write_line(w: PlannedWrite, names: Mapping[str, str] | None = None) -> PlanLine:
    """One planned write of a backfill or cutover plan as the reviewer reads it."""
    return _line(
        w.seq,
        w.calendar,
        str(w.op),
        w.event_id,
        w.correlation_id,
        w.reason,
        w.before,
        w.body,
        names,
    )


def mutation_line(n: int, m: PlannedMutation, names: Mapping[str, str] | None = None) -> PlanLine:
    """One write of a sync cycle's plan (`engine.plan`) as the reviewer reads it
    (`sync --dry-run`), in the same shape as a migration plan's."""
    return _line(
        n,
        m.calendar_google_id,
        str(m.op),
        m.google_event_id,
        m.correlation_id,
        m.reason,
        m.before,
        m.body,
        names,
    )


def _line(
    seq: int,
    calendar: str,
    op: str,
    event_id: str,
    correlation_id: str | None,
    reason: str,
    before: GoogleEvent | None,
    body: GoogleEvent | None,
    names: Mapping[str, str] | None,
) -> PlanLine:
    names = names or {}
    shown, sortable, all_day = when_text(event_start(before, body))
    return PlanLine(
        seq=seq,
        calendar=names.get(calendar, calendar),
        op=write_kind(op, body),  # adoptions of legacy blocks apart from stamps of user events
        google_event_id=event_id,
        correlation_id=correlation_id,
        reason=reason,
        title=event_title(before, body),
        when=shown,
        start=sortable,
        all_day=all_day,
        changes=changes_of(field_changes(op, before, body)),
        calendar_id=calendar,
    )


def undo_line(n: int, step: UndoStep, names: Mapping[str, str] | None = None) -> PlanLine:
    """One undo step of a level-2 rollback as the reviewer reads it: what the event is
    now and what it goes back to; one that comes back under a new id says so."""
    names = names or {}
    now, body = step.current, step.body
    if step.action == "insert":  # re-created: it comes back as it was
        raw = [FieldChange("status", (now or {}).get("status") or "deleted", "confirmed")]
    elif step.action == "none":
        raw = []
    else:
        raw = field_changes(step.action, now, body)
    if step.new_id:
        raw = [FieldChange("id", _lost_id(step), step.new_id), *raw]
    shown, sortable, all_day = when_text(event_start(now, body))
    title = str((now or {}).get("summary") or (body or {}).get("summary") or "")
    reason = f"undo {step.op}"
    if step.new_id:
        reason += " (the old id is gone for good: it comes back under a new id)"
    if step.conflict:
        reason += f"; kept as is: {step.conflict}"
    return PlanLine(
        seq=n,
        calendar=names.get(step.calendar, step.calendar),
        op=UNDO_OPS.get(step.action, step.action),
        google_event_id=step.event_id,
        correlation_id=None,
        reason=reason,
        title=title,
        when=shown,
        start=sortable,
        all_day=all_day,
        changes=changes_of(raw),
        calendar_id=step.calendar,
        new_id=step.new_id,
        conflict=step.conflict,
    )


def _lost_id(step: UndoStep) -> str:
    """The id an event re-created under its next generation had (`writes.ids`: the new
    one is the old one plus `g<n>`)."""
    new = step.new_id or ""
    m = re.fullmatch(r"(.+)g[1-9][0-9]*", new)
    return m.group(1) if m else "(gone for good)"


def write_text(line: PlanLine) -> list[str]:
    """A write as the CLI's dry runs print it: the event, then what changes and why;
    ids last."""
    when = line.when + (" (all day)" if line.all_day else "")
    head = f"  {line.seq:>5} {line.op:<9} {line.calendar} · {when or '(no time)'} · "
    head += json.dumps(line.title or "(no title)", ensure_ascii=False)
    out = [head, f"          {line.change_text}"]
    ids = f"event {line.google_event_id}"
    out.append(f"          why: {line.reason}  [{ids}]")
    return out


# --- plans and previews ----------------------------------------------------------------


def plan_view(plan: MigrationPlan, names: dict[str, str] | None = None) -> PlanView:
    """A `MigrationPlan` as the reviewer reads it; `names` maps Google calendar ids to the
    summaries the person knows them by."""
    lines = [write_line(w, names) for w in plan.writes]
    est = plan.estimate
    return PlanView(plan.plan_id, lines, est["units"], est["round_trips"])


def preview_writes(preview: RollbackPreview, names: dict[str, str] | None = None) -> list[PlanLine]:
    """A rollback's undo steps (level 2) as plan lines, newest first."""
    return [
        undo_line(n, s, names)
        for n, s in enumerate((s for s in preview.steps if s.action != "none"), start=1)
    ] + [undo_line(0, s, names) for s in preview.steps if s.action == "none" and s.conflict]


def preview_lines(
    preview: RollbackPreview, names: dict[str, str] | None = None, *, steps: bool = True
) -> list[str]:
    """A rollback preview as modal lines: the summary, the calendars, the first undo
    steps (each as a person reads it; not with `steps=False`, when a table lists them),
    the events that come back under a new id."""
    names = names or {}
    out = preview.summary.splitlines()
    for cal in preview.calendars:
        out.append(f"  {names[cal]} ({cal})" if cal in names else f"  {cal}")
    writes = preview_writes(preview, names)
    for ln in writes[:MAX_STEPS] if steps else ():
        conflict = f"  [conflict: {ln.conflict}]" if ln.conflict else ""
        out.append(f"  {ln.op} {ln.calendar} · {ln.when} · {ln.title!r}{conflict}")
    if steps and len(writes) > MAX_STEPS:
        out.append(f"  … and {len(writes) - MAX_STEPS} more")
    out += renewed_lines(writes)
    return out


def renewed_lines(writes: Sequence[PlanLine]) -> list[str]:
    """The events a rollback re-creates under a new id (Google never frees a used one)."""
    renewed = [w for w in writes if w.new_id]
    if not renewed:
        return []
    out = [f"{len(renewed)} event(s) come back under a new id (the old one is gone for good):"]
    out += [
        f"  {w.calendar} · {w.when} · {json.dumps(w.title, ensure_ascii=False)}: new id {w.new_id}"
        for w in renewed
    ]
    return out


def rollback_review(preview: RollbackPreview, names: dict[str, str] | None = None) -> Review:
    """The rollback confirmation: its lines and, for level 2, the writes it would make."""
    return Review(preview_lines(preview, names, steps=False), preview_writes(preview, names))


def cutover_lines(preview: CutoverPreview, names: dict[str, str] | None = None) -> list[str]:
    """`service.cutover(dry_run=True)` as modal lines: block writes per calendar and the gate."""
    names = names or {}
    if preview.resume_plan_id is not None:
        return [f"Continues the interrupted cutover {preview.resume_plan_id}."]
    per_cal: Counter[str] = Counter(w.calendar for w in preview.writes)
    total = sum(per_cal.values())
    out = [f"{total} block(s) get the template content (one patch each)."]
    out += [f"  {names.get(cal, cal)}: {n}" for cal, n in sorted(per_cal.items())]
    gate = preview.gate
    if gate is not None:
        out.append("")
        out.append("Rollout gate: " + ("passed" if gate.passed else "NOT passed"))
        out += [f"  {r}" for r in gate.reasons[:3]]
        if not gate.passed:
            out.append("Yes will be refused until the gate passes (nothing is written).")
    return out
