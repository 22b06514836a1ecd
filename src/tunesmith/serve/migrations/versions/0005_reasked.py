"""Answers serve asked again (serve.guard): the scope guard was sure the question is in scope, the model declined it,
and the answer sent is the one given with the data's refusal openings suppressed.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:  # batch: SQLite cannot alter a table in place
        batch.add_column(sa.Column("reasked", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("reasked")
