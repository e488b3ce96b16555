"""Opaque page and sync tokens: base64url JSON, so they survive dump/load and need no table."""

from __future__ import annotations

import base64
import json
from typing import Any


def encode(prefix: str, payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(prefix: str, token: str) -> dict[str, Any] | None:
    """The payload, or None when the token is not one of ours (treated as unknown)."""
    if not token.startswith(prefix):
        return None
    body = token[len(prefix) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None
