"""The app home: where the DB, tokens and the installation id live.

Resolved from `--home`, then `CALSYNC_HOME`, then the platform's user data dir.
The directory is 0700; files holding state or secrets are created 0600.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from calsync_tui.errors import CalsyncError

APP_NAME = "calsync-tui"
DIR_MODE = 0o700
FILE_MODE = 0o600


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Pick the home directory without creating it."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("CALSYNC_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def write_private(path: Path, data: str | bytes) -> None:
    """Write a file atomically with mode 0600 from the first byte (no umask window)."""
    payload = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


@dataclass(frozen=True)
class AppHome:
    """Paths inside the home; `ensure()` creates the directory with safe modes."""

    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / "calsync.db"

    @property
    def backups_dir(self) -> Path:
        return self.root / "backups"

    @property
    def tokens_path(self) -> Path:
        return self.root / "tokens.json"

    @property
    def installation_id_path(self) -> Path:
        return self.root / "installation_id"

    @property
    def lock_path(self) -> Path:
        return self.root / "calsync.lock"

    @property
    def plans_dir(self) -> Path:
        return self.root / "plans"

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    def ensure(self) -> AppHome:
        """Create the home (0700) or fail with one line if it cannot be used."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            os.chmod(self.root, DIR_MODE)
        except OSError as exc:
            raise CalsyncError(f"cannot use home {self.root}: {exc.strerror}") from None
        if not os.access(self.root, os.W_OK):
            raise CalsyncError(f"home {self.root} is not writable")
        return self

    def installation_id(self) -> str:
        """The UUID naming this installation (`calsync_instance`), made once and kept."""
        path = self.installation_id_path
        if path.exists():
            value = path.read_text().strip()
            try:
                return str(uuid.UUID(value))
            except ValueError:
                raise CalsyncError(f"{path} is corrupt: not a UUID") from None
        self.ensure()
        value = str(uuid.uuid4())
        write_private(path, value + "\n")
        return value


def open_home(explicit: str | os.PathLike[str] | None = None) -> AppHome:
    """Resolve and create the home."""
    return AppHome(resolve_home(explicit)).ensure()


# --- a portable identity: installation id, settings, accounts (never tokens) ---------------

HOME_FILE_FORMAT = "calsync-tui home"
HOME_FILE_VERSION = 1


def set_installation_id(home: AppHome, value: str) -> None:
    """Store `value` as this home's installation id (adoption's take-over, home import)."""
    try:
        value = str(uuid.UUID(value))
    except ValueError:
        raise CalsyncError(f"not an installation id (a UUID): {value!r}") from None
    home.ensure()
    write_private(home.installation_id_path, value + "\n")


def existing_installation_id(home: AppHome) -> str | None:
    """The home's installation id if it has one (never makes one)."""
    if not home.installation_id_path.exists():
        return None
    return home.installation_id()


def home_document(
    installation_id: str,
    settings: dict[str, object],
    accounts: list[dict[str, object]],
    enabled_calendars: list[str],
    exported_at: str,
) -> dict[str, object]:
    """The export file's content (JSON). Tokens are never part of it."""
    return {
        "format": HOME_FILE_FORMAT,
        "version": HOME_FILE_VERSION,
        "exported_at": exported_at,
        "installation_id": installation_id,
        "settings": settings,
        "accounts": accounts,
        "enabled_calendars": enabled_calendars,
    }


def read_home_document(path: Path) -> dict[str, object]:
    """A validated export file, or a one-line CalsyncError saying what is wrong."""
    import json

    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalsyncError(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
    except ValueError:
        raise CalsyncError(f"{path} is not a calsync-tui home file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != HOME_FILE_FORMAT:
        raise CalsyncError(
            f"{path} is not a calsync-tui home file (no format {HOME_FILE_FORMAT!r})"
        )
    if doc.get("version") != HOME_FILE_VERSION:
        raise CalsyncError(f"{path}: unsupported home file version {doc.get('version')!r}")
    try:
        doc["installation_id"] = str(uuid.UUID(str(doc.get("installation_id"))))
    except ValueError:
        raise CalsyncError(f"{path}: installation_id is not a UUID") from None
    settings = doc.get("settings", {})
    if not isinstance(settings, dict):
        raise CalsyncError(f"{path}: settings must be a JSON object")
    accounts = doc.get("accounts", [])
    if not isinstance(accounts, list) or not all(
        isinstance(a, dict) and isinstance(a.get("email"), str) and a["email"] for a in accounts
    ):
        raise CalsyncError(f"{path}: accounts must be a list of objects with an email")
    if any(k in a for a in accounts for k in ("token", "access_token", "refresh_token")):
        raise CalsyncError(f"{path}: holds tokens; a home file never carries them")
    cals = doc.get("enabled_calendars", [])
    if not isinstance(cals, list) or not all(isinstance(c, str) for c in cals):
        raise CalsyncError(f"{path}: enabled_calendars must be a list of calendar ids")
    doc["settings"], doc["accounts"], doc["enabled_calendars"] = settings, accounts, cals
    return doc
