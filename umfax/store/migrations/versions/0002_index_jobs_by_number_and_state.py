"""Index jobs by number and state (one call per number); claim index in the claim's order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:58:06.039250
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_number_state", "jobs", ["number", "state"], unique=False)
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.create_index("ix_jobs_claim", "jobs", ["state", sa.text("priority DESC"), "not_before", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.create_index("ix_jobs_claim", "jobs", ["state", "priority", "not_before"])
    op.drop_index("ix_jobs_number_state", table_name="jobs")
