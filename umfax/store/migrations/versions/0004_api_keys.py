"""API keys for the REST API.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 12:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import umfax.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", umfax.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", umfax.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", umfax.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_user_name"), ["user_name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_name"))
    op.drop_table("api_keys")
