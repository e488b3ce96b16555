"""The origins of the migration's journal rows (`Mutation.origin`): which step wrote
a row, so rollback level 2 knows what to undo and a new plan what it supersedes."""

ORIGIN_BACKFILL = "migration"
ORIGIN_CUTOVER = "cutover"
ORIGIN_ROLLBACK = "rollback"
# `adopt` (engine.adopt): taking another installation's markers over is undone by level 2 too
ORIGIN_ADOPT = "adopt"
MIGRATION_ORIGINS = (ORIGIN_BACKFILL, ORIGIN_CUTOVER, ORIGIN_ADOPT)
# a new backfill plan supersedes the unsent rows of these (never a rollback's)
SUPERSEDABLE = (ORIGIN_BACKFILL, ORIGIN_CUTOVER)
