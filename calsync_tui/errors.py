"""Errors that end a command with one clear line (exit 1) instead of a traceback."""


class CalsyncError(Exception):
    """A failure the user can act on; its text is the one line shown to them.

    Never put a token or secret in the message.
    """

    exit_code = 1


class UsageError(CalsyncError):
    """Wrong arguments or a request that makes no sense (exit 2)."""

    exit_code = 2
