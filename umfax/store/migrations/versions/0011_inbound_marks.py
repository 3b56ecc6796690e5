"""Read marks and "remove from my inbox" per person: ``inbound_marks`` (inbound_id,
user_id, read_at, removed_at).  ``inbound_notes`` keeps what is shared (the note, and an
administrator's delete for everyone); its one shared ``read_at`` becomes a read mark for
each person the item reached (routed, assigned, or a console administrator).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: Who an item marked read reached: its owner, those its delivery notices name, admins.
_COPY_READ = """
INSERT INTO inbound_marks (inbound_id, user_id, read_at, removed_at)
SELECT n.inbound_id, u.id, n.read_at, NULL
FROM inbound_notes n
JOIN inbound i ON i.id = n.inbound_id
JOIN users u ON (
    u.id = i.user_id
    OR EXISTS (SELECT 1 FROM outbox o
               WHERE o.origin = 'inbound:' || CAST(i.id AS VARCHAR(20))
                 AND o.channel = 'inbound' AND o.target = u.name)
    OR EXISTS (SELECT 1 FROM accounts a WHERE a.user_id = u.id AND a.admin)
)
WHERE n.read_at IS NOT NULL
"""

_NOTES_FOR_MARKS = """
INSERT INTO inbound_notes (inbound_id, note)
SELECT DISTINCT m.inbound_id, '' FROM inbound_marks m
WHERE m.read_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM inbound_notes n WHERE n.inbound_id = m.inbound_id)
"""

#: Read for everyone if anyone read it.
_RESTORE_READ = """
UPDATE inbound_notes SET read_at = (
    SELECT MIN(m.read_at) FROM inbound_marks m WHERE m.inbound_id = inbound_notes.inbound_id
)
"""


def upgrade() -> None:
    now = sa.DateTime(timezone=True)
    op.create_table(
        "inbound_marks",
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("read_at", now, nullable=True),
        sa.Column("removed_at", now, nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound.id"],
            name=op.f("fk_inbound_marks_inbound_id_inbound"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_inbound_marks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("inbound_id", "user_id", name=op.f("pk_inbound_marks")),
    )
    op.execute(_COPY_READ)
    with op.batch_alter_table("inbound_notes") as batch:
        batch.drop_column("read_at")


def downgrade() -> None:
    with op.batch_alter_table("inbound_notes") as batch:
        batch.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(_NOTES_FOR_MARKS)
    op.execute(_RESTORE_READ)
    op.drop_table("inbound_marks")
