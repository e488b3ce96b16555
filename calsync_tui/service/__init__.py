"""The service layer: what both faces (the console and the CLI) call.

`backend` is the console's handle on one home; `cycle` runs a sync cycle with its
auto-rollback check; `env` builds the migration core's environment; `readmodel` and
`lineage` are the read side; `plans` shapes plans and previews for review; `labels`
holds the words both faces show. Nothing here imports Textual.
"""
