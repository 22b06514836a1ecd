"""Alembic environment: run against the connection RequestLog hands over, or the URL in the alembic config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from tunesmith.serve.log import Base

config = context.config
connection = config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None, "the alembic config sets sqlalchemy.url when no connection is handed over"
    with create_engine(url).connect() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
