"""EventState.foreign_*: another installation's markers on an external_calsync event.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 19:40:00

Existing external rows have no markers stored until their event is listed again, so the
sync tokens are cleared: the next cycle lists every calendar in full (one-time cost).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("foreign_instance", "foreign_type", "foreign_id", "foreign_source")


def upgrade() -> None:
    with op.batch_alter_table("eventstate", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(
                sa.Column(name, sqlmodel.sql.sqltypes.AutoString(), nullable=True)
            )
    op.execute("UPDATE calendar SET sync_token = NULL")


def downgrade() -> None:
    with op.batch_alter_table("eventstate", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
