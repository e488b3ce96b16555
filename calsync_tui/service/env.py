"""What a face hands the core: the one place an `AppContext` becomes a `MigrationEnv`."""

from __future__ import annotations

from calsync_tui.context import AppContext
from calsync_tui.migration.env import MigrationEnv


def migration_env(ctx: AppContext) -> MigrationEnv:
    """The migration core's view of one home: its store, settings, id and gateways."""
    return MigrationEnv(ctx.home, ctx.store, ctx.settings, ctx.installation_id, ctx.gateway_for)
