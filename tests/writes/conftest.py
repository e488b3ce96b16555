"""Write-path tests use the engine's world (sandbox + home + store) and the migration's
legacy-mess world, both on the strict sandbox."""

from __future__ import annotations

from tests.engine.conftest import sb, world
from tests.migration.conftest import mess

__all__ = ["mess", "sb", "world"]
