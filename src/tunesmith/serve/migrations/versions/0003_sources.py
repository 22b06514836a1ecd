"""The passages an answer given with retrieval was based on (serve.rag_models): a JSON list, null otherwise.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:  # batch: SQLite cannot alter a table in place
        batch.add_column(sa.Column("sources", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("sources")
