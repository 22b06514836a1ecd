"""Answers the answer guards hit (serve.answer_guards): the action taken and what each guard found.

`answer_guard` is block, redact or log (null when no guard hit, or none is on); `answer_flags` is a JSON object of
guard -> what it found (blocklisted phrases, PII entity types; never a value), null likewise.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:  # batch: SQLite cannot alter a table in place
        batch.add_column(sa.Column("answer_guard", sa.String(16), nullable=True))
        batch.add_column(sa.Column("answer_flags", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("answer_flags")
        batch.drop_column("answer_guard")
