"""One journal record shape for every origin; lost ids, refusals and lockouts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 19:45:00

Before: sync rows kept the body sent in `after_json`; migration rows (origins
migration, cutover, rollback) kept `{"body": ..., "result": ..., "adopted": ...,
"gateway_op": ..., "undoes": [...]}` there. After: every row keeps the body sent in
`after_json` and the rest in columns of its own (`result_json`, `adopted`,
`gateway_op`, `undoes_json`, `source_correlation_id`); see calsync_tui.writes.record.
Downgrade folds the columns back into the old migration form.

Also added (empty, additive): EventState.generation (which generation of a block's
event id is in use), EventState.refusal_reason/refusal_version/refused_at (a write
Google refused for good), Account.writes_paused_until/lockout_level (usage limit).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SHAPE_ORIGINS = ("migration", "cutover", "rollback")
CALL_OF_OP = {
    "insert": "insert",
    "delete": "delete",
    "patch": "patch",
    "stamp": "patch",
    "retitle": "patch",
    "restore": "patch",
}


def _loads(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _source_of(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    ext = body.get("extendedProperties")
    private = ext.get("private") if isinstance(ext, dict) else None
    value = private.get("calsync_source") if isinstance(private, dict) else None
    return value if isinstance(value, str) else None


def _new_columns() -> list[tuple[str, sa.Column[Any]]]:
    """Fresh Column objects each time (a Column belongs to one table once added)."""
    return [
        (
            "mutation",
            sa.Column("gateway_op", sqlmodel.AutoString(), nullable=False, server_default=""),
        ),
        ("mutation", sa.Column("source_correlation_id", sqlmodel.AutoString(), nullable=True)),
        ("mutation", sa.Column("result_json", sqlmodel.AutoString(), nullable=True)),
        ("mutation", sa.Column("adopted", sa.Boolean(), nullable=False, server_default=sa.false())),
        ("mutation", sa.Column("undoes_json", sqlmodel.AutoString(), nullable=True)),
        ("eventstate", sa.Column("generation", sa.Integer(), nullable=False, server_default="0")),
        ("eventstate", sa.Column("refusal_reason", sqlmodel.AutoString(), nullable=True)),
        ("eventstate", sa.Column("refusal_version", sqlmodel.AutoString(), nullable=True)),
        ("eventstate", sa.Column("refused_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)),
        (
            "account",
            sa.Column("writes_paused_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        ),
        ("account", sa.Column("lockout_level", sa.Integer(), nullable=False, server_default="0")),
    ]


def upgrade() -> None:
    # Plain ALTER TABLE ADD/DROP COLUMN (SQLite >= 3.35), not batch mode: a batch copies
    # the table, and dropping `account` with calendars referencing it fails with foreign
    # keys on.
    for table, column in _new_columns():
        op.add_column(table, column)

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, origin, op, after_json FROM mutation")).all()
    for row_id, origin, row_op, after in rows:
        data = _loads(after)
        values: dict[str, Any] = {"k": row_id, "call": CALL_OF_OP.get(row_op, "patch")}
        if origin in OLD_SHAPE_ORIGINS and isinstance(data, dict):
            body = data.get("body")
            values["after"] = _dumps(body if isinstance(body, dict) else None)
            result = data.get("result")
            values["result"] = _dumps(result if isinstance(result, dict) else None)
            values["adopted"] = bool(data.get("adopted"))
            if data.get("gateway_op"):
                values["call"] = str(data["gateway_op"])
            undoes = data.get("undoes")
            values["undoes"] = _dumps(undoes) if isinstance(undoes, list) else None
            values["source"] = _source_of(body)
        else:
            values.update(after=after, result=None, adopted=False, undoes=None)
            values["source"] = _source_of(data)
        conn.execute(
            sa.text(
                "UPDATE mutation SET gateway_op = :call, after_json = :after, "
                "result_json = :result, adopted = :adopted, undoes_json = :undoes, "
                "source_correlation_id = :source WHERE id = :k"
            ),
            values,
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, origin, op, gateway_op, after_json, result_json, adopted, undoes_json, "
            "status FROM mutation"
        )
    ).all()
    for row_id, origin, row_op, call, after, result, adopted, undoes, status in rows:
        if origin not in OLD_SHAPE_ORIGINS:
            continue
        data: dict[str, Any] = {"body": _loads(after)}
        if result is not None or status in ("done", "undone"):
            data["result"] = _loads(result)
            data["adopted"] = bool(adopted)
        if row_op == "restore":
            data["gateway_op"] = call or "patch"
            data["undoes"] = _loads(undoes) or []
        conn.execute(
            sa.text("UPDATE mutation SET after_json = :after WHERE id = :k"),
            {"k": row_id, "after": json.dumps(data, ensure_ascii=False)},
        )
    for table, column in reversed(_new_columns()):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
