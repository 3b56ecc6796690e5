"""Connector state (Graph delta links).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import umfax.store.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connector_state",
        sa.Column("connector", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", umfax.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector", "key", name=op.f("pk_connector_state")),
    )


def downgrade() -> None:
    op.drop_table("connector_state")
