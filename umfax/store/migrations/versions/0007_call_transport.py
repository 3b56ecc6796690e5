"""How each call crossed a SIP trunk: attempts' and received faxes' transport (t38, g711).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("attempts", "inbound"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("transport", sa.String(length=8), nullable=False, server_default=""))


def downgrade() -> None:
    for table in ("attempts", "inbound"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("transport")
