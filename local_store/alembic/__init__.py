"""Alembic environment of the local store (a package so it ships with the wheel)."""
