"""The web console: accounts, sessions, the setup link, the audit log, address books,
notes and tags on received faxes, console-edited routing, and list indexes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(column: str, table: str, on_delete: str = "CASCADE", source: str = "") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{table}.id"], name=op.f(f"fk_{source}_{column}_{table}"), ondelete=on_delete
    )


def upgrade() -> None:
    now = sa.DateTime(timezone=True)
    op.create_table(
        "accounts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("totp_secret", sa.String(200), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_signins", sa.Integer(), nullable=False),
        sa.Column("locked_until", now, nullable=True),
        sa.Column("last_signin_at", now, nullable=True),
        sa.Column("created_at", now, nullable=False),
        _fk("user_id", "users", source="accounts"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("second_factor_done", sa.Boolean(), nullable=False),
        sa.Column("created_at", now, nullable=False),
        sa.Column("seen_at", now, nullable=False),
        sa.Column("expires_at", now, nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(300), nullable=False),
        _fk("user_id", "users", source="web_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    op.create_table(
        "setup_tokens",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", now, nullable=False),
        sa.Column("expires_at", now, nullable=False),
        sa.Column("used_at", now, nullable=True),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_setup_tokens")),
    )
    op.create_table(
        "audit",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("at", now, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("object_kind", sa.String(16), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        _fk("user_id", "users", "SET NULL", source="audit"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    op.create_index(op.f("ix_audit_at"), "audit", ["at"])
    op.create_index("ix_audit_object", "audit", ["object_kind", "object_id"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("fax_number", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("created_at", now, nullable=False),
        _fk("user_id", "users", source="contacts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index(op.f("ix_contacts_user_id"), "contacts", ["user_id"])
    op.create_table(
        "contact_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _fk("user_id", "users", source="contact_groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_groups")),
    )
    op.create_index(op.f("ix_contact_groups_user_id"), "contact_groups", ["user_id"])
    op.create_table(
        "contact_group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        _fk("group_id", "contact_groups", source="contact_group_members"),
        _fk("contact_id", "contacts", source="contact_group_members"),
        sa.PrimaryKeyConstraint("group_id", "contact_id", name=op.f("pk_contact_group_members")),
    )
    op.create_table(
        "inbound_notes",
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("read_at", now, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("deleted_at", now, nullable=True),
        _fk("inbound_id", "inbound", source="inbound_notes"),
        sa.PrimaryKeyConstraint("inbound_id", name=op.f("pk_inbound_notes")),
    )
    op.create_table(
        "inbound_tags",
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        _fk("inbound_id", "inbound", source="inbound_tags"),
        sa.PrimaryKeyConstraint("inbound_id", "tag", name=op.f("pk_inbound_tags")),
    )
    op.create_index(op.f("ix_inbound_tags_tag"), "inbound_tags", ["tag"])
    op.create_table(
        "console_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("called", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("csi", sa.String(100), nullable=False),
        sa.Column("users", sa.String(1000), nullable=False),
        sa.Column("voice", sa.String(300), nullable=False),
        sa.Column("updated_at", now, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_routes")),
    )
    op.create_table(
        "console_junk",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(8), nullable=False),
        sa.Column("pattern", sa.String(100), nullable=False),
        sa.Column("created_at", now, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_junk")),
    )
    op.create_index("ix_jobs_user_created", "jobs", ["user_id", "created_at"])
    op.create_index("ix_inbound_user_started", "inbound", ["user_id", "started_at"])
    op.create_index("ix_inbound_started", "inbound", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_started", "inbound")
    op.drop_index("ix_inbound_user_started", "inbound")
    op.drop_index("ix_jobs_user_created", "jobs")
    for table in (
        "console_junk",
        "console_routes",
        "inbound_tags",
        "inbound_notes",
        "contact_group_members",
        "contact_groups",
        "contacts",
        "audit",
        "setup_tokens",
        "web_sessions",
        "accounts",
    ):
        op.drop_table(table)
