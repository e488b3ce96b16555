"""EventState.ical_key: iCalUID (+ originalStartTime) shared by copies of one meeting.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:50:00

Existing rows have no key until their event is listed again, so the sync tokens are
cleared: the next cycle lists every calendar in full and fills the keys (one-time cost).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("eventstate", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ical_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_eventstate_ical_key"), ["ical_key"], unique=False)
    op.execute("UPDATE calendar SET sync_token = NULL")


def downgrade() -> None:
    with op.batch_alter_table("eventstate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eventstate_ical_key"))
        batch_op.drop_column("ical_key")
