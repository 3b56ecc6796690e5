"""The console's inbox search by the caller's number: an index on (caller_number,
started_at), so a search for a number reads its faxes newest first instead of every row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 18:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inbound_caller_started", "inbound", ["caller_number", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_caller_started", "inbound")
