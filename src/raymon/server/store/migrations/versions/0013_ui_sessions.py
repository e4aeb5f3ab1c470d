"""UI sessions: the web UI's logins, one row per signed-in browser.

Revision ID: 0013_ui_sessions
Revises: 0012_alert_deliveries
Create Date: 2026-12-02 03:00:00

The session cookie carries only an opaque random token; this table keeps its SHA-256 with the
user, when it was made and last used, when it expires, and when it was revoked (logout, password
change). Deleting a user deletes their sessions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import raymon.server.store.coltypes

revision = "0013_ui_sessions"
down_revision = "0012_alert_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("ui_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ui_sessions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ui_sessions_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ui_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ui_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_ui_sessions_user_id"))
    op.drop_table("ui_sessions")
