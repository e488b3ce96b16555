"""One settings object, validated at load: defaults, then `config.json` in the home,
then `CALSYNC_*` environment variables."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from calsync_tui.errors import CalsyncError
from calsync_tui.home import AppHome, write_private

DEFAULT_LEGACY_MARKERS = ("🔒", "📅", "🗓️", "🗓", "⛔", "🚫", "⏰")
DEFAULT_IGNORED_EVENT_TYPES = (
    "workingLocation",
    "focusTime",
    "outOfOffice",
    "birthday",
    "fromGmail",
)


@dataclass
class Settings:
    """Everything a user may tune. Unknown keys in config.json are an error, not ignored."""

    api_endpoint: str = "https://www.googleapis.com/"
    window_days_back: int = 7
    window_days_ahead: int = 90
    title_template: str = "Busy - {title}"
    hide_titles: bool = False
    legacy_markers: tuple[str, ...] = DEFAULT_LEGACY_MARKERS
    ignored_event_types: tuple[str, ...] = DEFAULT_IGNORED_EVENT_TYPES
    respect_manual_deletion: bool = False
    batch_size: int = 50
    requests_per_minute: int = 500
    sync_interval_seconds: int = 60
    rollout_clean_cycles: int = 3
    auto_rollback_error_rate: float = 0.05
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> Settings:
        if not 1 <= self.batch_size <= 1000:
            raise CalsyncError("batch_size must be between 1 and 1000 (Google's batch limit)")
        if self.window_days_back < 0 or self.window_days_ahead < 1:
            raise CalsyncError("window_days_back must be >= 0 and window_days_ahead >= 1")
        if "{title}" not in self.title_template and not self.hide_titles:
            raise CalsyncError("title_template must contain {title} (or set hide_titles)")
        if not 1 <= self.requests_per_minute <= 10_000:
            raise CalsyncError("requests_per_minute must be between 1 and 10000")
        if not self.api_endpoint.startswith(("http://", "https://")):
            raise CalsyncError(f"api endpoint must be an http(s) URL, got {self.api_endpoint!r}")
        if not self.api_endpoint.endswith("/"):
            self.api_endpoint += "/"
        return self

    def block_title(self, source_title: str) -> str:
        """The title a busy block gets for a source with this title."""
        if self.hide_titles:
            return "Busy"
        return self.title_template.replace("{title}", source_title or "(no title)")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(name: str, raw: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(raw, str):
                return raw.strip().lower() in ("1", "true", "yes", "on")
            return bool(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            if isinstance(raw, str):
                return tuple(p.strip() for p in raw.split(",") if p.strip())
            return tuple(str(p) for p in raw)
        if isinstance(default, dict):
            return dict(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise CalsyncError(f"setting {name}: cannot use value {raw!r}") from None


def load_settings(home: AppHome | None, api_endpoint: str | None = None) -> Settings:
    """Defaults < config.json < CALSYNC_* env < explicit arguments."""
    settings = Settings()
    values: dict[str, Any] = {}
    if home is not None and home.config_path.exists():
        try:
            loaded = json.loads(home.config_path.read_text())
        except (OSError, ValueError) as exc:
            raise CalsyncError(f"{home.config_path} is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise CalsyncError(f"{home.config_path} must hold a JSON object")
        values.update(loaded)
    names = {f.name for f in fields(Settings)}
    for f in fields(Settings):
        env = os.environ.get(f"CALSYNC_{f.name.upper()}")
        if env is not None:
            values[f.name] = env
    if api_endpoint:
        values["api_endpoint"] = api_endpoint
    for key, raw in values.items():
        if key not in names:
            raise CalsyncError(f"unknown setting {key!r} in config")
        setattr(settings, key, _coerce(key, raw, getattr(Settings(), key)))
    return settings.validate()


def save_settings(home: AppHome, settings: Settings) -> None:
    write_private(home.config_path, json.dumps(settings.to_json(), indent=2, ensure_ascii=False))
