"""Pure domain: classify, plan, execute, reconcile, cycle. Never imports Textual."""
