"""Alembic migrations of the request log, shipped inside the package so `tunesmith serve` can upgrade any database."""
