"""CLI command groups; each module has `register(sub, common)`."""
