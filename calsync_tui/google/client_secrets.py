"""Check a downloaded `client_secret.json` before starting a browser flow.

Every problem is one line that says what is wrong and how to make the right file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from calsync_tui.errors import CalsyncError

REQUIRED = ("client_id", "client_secret", "auth_uri", "token_uri")


def how_to(home_root: Path | None) -> str:
    target = f"{home_root / 'client_secret.json'}" if home_root else "<home>/client_secret.json"
    return (
        "make a Desktop OAuth client: Google Cloud console → APIs & Services → enable the "
        "Google Calendar API, then Credentials → Create credentials → OAuth client ID → "
        f"Desktop app; download its JSON to {target} or pass --client-secrets FILE"
    )


def load_client_config(path: Path, *, home_root: Path | None = None) -> dict[str, Any]:
    """The validated `{"installed": {...}}` config, or CalsyncError with one line."""
    hint = how_to(home_root)
    if not path.exists():
        raise CalsyncError(f"client secrets file {path} not found; {hint}")
    if not path.is_file():
        raise CalsyncError(f"client secrets path {path} is not a file; {hint}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CalsyncError(f"{path} is not a text JSON file; {hint}") from None
    except OSError as exc:
        raise CalsyncError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise CalsyncError(f"{path} is not valid JSON; {hint}") from None
    if not isinstance(data, dict):
        raise CalsyncError(f"{path} must hold a JSON object with an 'installed' section; {hint}")
    if "installed" not in data:
        if "web" in data:
            raise CalsyncError(
                f"{path} is for a Web application client, not a Desktop app client; {hint}"
            )
        raise CalsyncError(f"{path} has no 'installed' (Desktop app) section; {hint}")
    installed = data["installed"]
    if not isinstance(installed, dict):
        raise CalsyncError(f"{path}: 'installed' must be a JSON object; {hint}")
    missing = [k for k in REQUIRED if not isinstance(installed.get(k), str) or not installed[k]]
    if missing:
        raise CalsyncError(f"{path} is missing {', '.join(missing)} in 'installed'; {hint}")
    for key in ("auth_uri", "token_uri"):
        if not installed[key].startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise CalsyncError(f"{path}: {key} must be an https URL; {hint}")
    return {"installed": installed}
