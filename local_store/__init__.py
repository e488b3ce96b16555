"""Local SQLite store (SQLModel over SQLite, schema under Alembic). Never imports Google."""
