"""Plan files: the approved list of writes a backfill (or cutover) will make, on disk.

A plan file holds its id, when it was made, its scope, the fingerprint of the Google
state it was computed from, the writes, per-calendar totals and the API call estimate.
A checksum over the content makes a hand-edited file detectable: the backfill executes
exactly what was reviewed or nothing. Files are written 0600 (they hold event content).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calsync_tui import clock
from calsync_tui.errors import CalsyncError
from calsync_tui.home import write_private
from calsync_tui.migration.planner import PlannedWrite, api_estimate, totals

FORMAT = "calsync-migration-plan"
FORMAT_VERSION = 1


@dataclass
class MigrationPlan:
    plan_id: str
    kind: str  # backfill | cutover
    created_at: str
    scope: str | None
    fingerprint: str
    writes: list[PlannedWrite]
    batch_size: int = 50
    inventory: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        kind: str,
        scope: str | None,
        fingerprint: str,
        writes: list[PlannedWrite],
        batch_size: int,
        inventory: dict[str, Any] | None = None,
    ) -> MigrationPlan:
        return cls(
            plan_id=str(uuid.uuid4()),
            kind=kind,
            created_at=clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            scope=scope,
            fingerprint=fingerprint,
            writes=writes,
            batch_size=batch_size,
            inventory=inventory or {},
        )

    @property
    def totals(self) -> dict[str, dict[str, int]]:
        return totals(self.writes)

    @property
    def estimate(self) -> dict[str, int]:
        return api_estimate(len(self.writes), self.batch_size)

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "plan_id": self.plan_id,
            "kind": self.kind,
            "created_at": self.created_at,
            "scope": self.scope,
            "fingerprint": self.fingerprint,
            "batch_size": self.batch_size,
            "totals": self.totals,
            "api_estimate": self.estimate,
            "inventory": self.inventory,
            "writes": [w.to_json() for w in self.writes],
        }

    def summary(self) -> dict[str, Any]:
        """The plan without its writes (for `--json` output and the TUI header)."""
        body = self.body()
        body.pop("writes")
        body["write_count"] = len(self.writes)
        return body


def _checksum(body: dict[str, Any]) -> str:
    canon = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canon.encode()).hexdigest()


def write_plan(plan: MigrationPlan, path: Path) -> Path:
    body = plan.body()
    body["checksum"] = _checksum(body)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    return path


def read_plan(path: Path) -> MigrationPlan:
    """Load a plan file; a missing, malformed or hand-edited file is refused in one line."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise CalsyncError(f"plan file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise CalsyncError(f"plan file {path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CalsyncError(f"{path} is not a calsync migration plan")
    if raw.get("version") != FORMAT_VERSION:
        raise CalsyncError(f"plan file {path} has unsupported version {raw.get('version')!r}")
    checksum = raw.pop("checksum", None)
    if checksum != _checksum(raw):
        raise CalsyncError(
            f"plan file {path} was modified after it was made; run `migrate plan` again"
        )
    try:
        return MigrationPlan(
            plan_id=str(raw["plan_id"]),
            kind=str(raw["kind"]),
            created_at=str(raw["created_at"]),
            scope=raw.get("scope"),
            fingerprint=str(raw["fingerprint"]),
            writes=[PlannedWrite.from_json(w) for w in raw["writes"]],
            batch_size=int(raw.get("batch_size", 50)),
            inventory=dict(raw.get("inventory") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CalsyncError(f"plan file {path} is incomplete: {exc}") from None
