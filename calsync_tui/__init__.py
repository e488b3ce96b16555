"""calsync-tui: mirror busy blocks between Google calendars, migrate to UUID correlation."""

__version__ = "0.1.0"
