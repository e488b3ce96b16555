"""Store failures the user can act on (corrupt, locked, newer schema). One line each."""


class StoreError(Exception):
    """Raised with a one-line, user-facing message; the CLI prints it and exits 1."""
