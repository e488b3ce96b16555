"""Fixtures for store tests: a real SQLite file in a temporary home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_store.db import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(tmp_path / "calsync.db", tmp_path / "backups")
    try:
        yield opened
    finally:
        opened.close()
