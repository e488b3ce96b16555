"""AppContext: home, settings, installation id and a lazily opened store."""

from __future__ import annotations

import argparse
import stat
import uuid
from pathlib import Path

import pytest

from calsync_tui.context import AppContext
from calsync_tui.errors import CalsyncError
from local_store import migrations


def _args(home: Path, endpoint: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(home=str(home), api_endpoint=endpoint)


def test_context_builds_home_settings_and_lazy_store(tmp_path: Path) -> None:
    home = tmp_path / "h"
    with AppContext.from_args(_args(home, "http://127.0.0.1:9/")) as ctx:
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert ctx.settings.api_endpoint == "http://127.0.0.1:9/"
        assert not ctx.store_is_open and not ctx.home.db_path.exists()
        assert ctx.store.schema_revision() == migrations.head_revision()
        assert stat.S_IMODE(ctx.home.db_path.stat().st_mode) == 0o600
        first = ctx.installation_id
        uuid.UUID(first)
    assert not ctx.store_is_open
    with AppContext.from_args(_args(home)) as again:
        assert again.installation_id == first
        assert again.settings.api_endpoint == "https://www.googleapis.com/"


def test_bad_config_is_one_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "config.json").write_text('{"batch_size": 5000}')
    with pytest.raises(CalsyncError, match="batch_size must be between 1 and 1000"):
        AppContext.from_args(_args(home))
