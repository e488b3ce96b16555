"""Shared fixtures: `sandbox` (empty local Google Calendar server) and `demo_sandbox`."""

from calsync_tui.sandbox.pytest_fixtures import demo_sandbox, sandbox

__all__ = ["demo_sandbox", "sandbox"]
