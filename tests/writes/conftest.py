"""Write-path tests use the migration's legacy-mess world and the engine's worlds."""

from __future__ import annotations

from tests.migration.conftest import mess

__all__ = ["mess"]
