"""Requests the scope guard declined before the model answered (serve.guard).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:  # batch: SQLite cannot alter a table in place
        batch.add_column(sa.Column("guarded", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("guarded")
