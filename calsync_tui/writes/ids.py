"""Client-supplied Google event ids of busy blocks: correlation id plus a generation.

Generation 0 is the UUID's hex (32 characters of 0-9a-f, valid base32hex). Google never
frees a used id, so when a block's id is lost for good (its event was deleted and cannot
be revived, or reads 404 while insert still answers 409) the block is re-created under
the next generation: `<hex>g<n>` (`g` and the digits are base32hex too). The form can
be read back (`generation_of`), and no generation of one block can equal any id of
another (generation 0 ids are exactly 32 characters, later ones longer).
"""

from __future__ import annotations

import re
import uuid

_GENERATED = re.compile(r"^([0-9a-f]{32})(?:g([1-9][0-9]*))?$")


def event_id_for(correlation_id: str, generation: int = 0) -> str:
    """The Google event id of generation `generation` of the block `correlation_id`."""
    if generation < 0:
        raise ValueError(f"generation must be >= 0, got {generation}")
    base = uuid.UUID(correlation_id).hex
    return base if generation == 0 else f"{base}g{generation}"


def generation_of(event_id: str) -> int | None:
    """The generation encoded in a block id made by `event_id_for`, None for other ids."""
    m = _GENERATED.match(event_id)
    if m is None:
        return None
    return int(m.group(2) or 0)


def correlation_of(event_id: str) -> str | None:
    """The correlation id an id made by `event_id_for` was derived from."""
    m = _GENERATED.match(event_id)
    return None if m is None else str(uuid.UUID(m.group(1)))
