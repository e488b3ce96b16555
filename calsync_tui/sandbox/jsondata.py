"""JSON data helpers shared by the sandbox modules."""

from __future__ import annotations

from typing import Any


def clone(value: Any) -> Any:
    """Deep copy of JSON data (dicts, lists, scalars): much faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value
