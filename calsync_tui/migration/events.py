"""The migration's names for the event-field readers, which live in `engine.fields`
(one reader of times, titles and private properties for engine and migration alike).
"""

from __future__ import annotations

from calsync_tui.engine.fields import VOLATILE_FIELDS as VOLATILE_FIELDS
from calsync_tui.engine.fields import content as content
from calsync_tui.engine.fields import private_props as private_props
from calsync_tui.engine.fields import time_key as time_key
from calsync_tui.engine.fields import title_of

title = title_of
