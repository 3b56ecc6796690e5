"""Voice messages beside received faxes: inbound.kind ("fax", "voice") and their audio.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=8), nullable=False, server_default="fax"))
    op.create_table(
        "inbound_audio",
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("wav", sa.LargeBinary(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound.id"],
            name=op.f("fk_inbound_audio_inbound_id_inbound"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("inbound_id", name=op.f("pk_inbound_audio")),
    )


def downgrade() -> None:
    op.drop_table("inbound_audio")
    with op.batch_alter_table("inbound") as batch:
        batch.drop_column("kind")
