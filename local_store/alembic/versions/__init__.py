"""Alembic revisions of the local store."""
