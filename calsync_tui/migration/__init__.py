"""Migration from legacy (emoji/title) detection to UUID correlation: phases, gates,
plans, backfill, rollout, cutover and rollback (DESIGN.md section 5).

Pure domain over the store and the gateway; never imports Textual.
"""
