"""The cover page template a sender chose for a job (``jobs.cover_template``: a template's
name; empty for the configured default).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 19:41:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("cover_template", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("cover_template")
