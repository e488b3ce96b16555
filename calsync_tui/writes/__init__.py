"""The one write path: every Google write of every origin goes through this package.

Sync cycles, the migration's backfill and cutover, rollback level 2 and removing the
blocks of a disabled calendar all hand it `Write`s; it journals them `pending` with the
event's prior state, sends them in batches, records Google's answer in the one record
shape (`record.Record`) and, after a crash, settles what was in flight. It is the only
code that calls the gateway's `execute` (writes and the batched read-backs that go with
them). It sits above `local_store` and `calsync_tui.google` and imports nothing else of
the product (an import-linter contract says so).

Modules:
- `record`   the journal vocabulary (`Op`, `MutationStatus`) and the one record shape
- `ids`      block event ids: correlation id + generation
- `journal`  write-ahead: `pending` rows (and the origin's own rows) in one transaction
- `executor` send journaled rows in batches, record every answer
- `recovery` settle rows a crash left in flight
- `readback` batched reads of events the write path (or rollback) needs to look at
- `report`   `WriteReport`, what a run did
- `lost_ids` a block id lost for good: the next generation, journaled before the insert
- `refusals` writes Google refuses for good: remembered per event version, held, listed
- `lockout`  Google's usage limit: the account's writes pause until a stored time
"""
