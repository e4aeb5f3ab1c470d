"""Alert deliveries: one row per message to a channel, one per HTTP attempt, and channels disabled by 410.

Revision ID: 0012_alert_deliveries
Revises: 0006_invitations
Create Date: 2026-12-01 23:55:00

The placeholder ``alert_deliveries`` of 0001 (never written) is dropped and made again in the
shape ``store.alerts`` uses: a delivery names its channel by (manifest version, action name)
and never holds a URL or a secret; ``alert_attempts`` is the delivery log (every attempt);
``alert_channels_disabled`` remembers the channels a receiver answered 410 for.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import raymon.server.store.coltypes

revision = "0012_alert_deliveries"
down_revision = "0011_issues"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time() -> raymon.server.store.coltypes.UTCDateTime:
    return raymon.server.store.coltypes.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_deliveries_issue")
    op.drop_table("alert_deliveries")
    op.create_table(
        "alert_deliveries",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=256), nullable=False),
        sa.Column("manifest_version", sa.Integer(), nullable=True),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("check_name", sa.String(length=256), nullable=False),
        sa.Column("issue_id", sa.String(length=128), nullable=False),
        sa.Column("events", _JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("retry_since", _time(), nullable=False),
        sa.Column("next_attempt_at", _time(), nullable=True),
        sa.Column("delivered_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("delivery_id"),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_deliveries_project_channel", ["project_id", "channel", "id"], unique=False
        )
        batch_op.create_index(
            "ix_alert_deliveries_stream", ["project_id", "channel", "check_name", "status"], unique=False
        )
    op.create_table(
        "alert_attempts",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("delivery_pk", _PK, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("attempted_at", _time(), nullable=False),
        sa.Column("next_attempt_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_pk"], ["alert_deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_alert_attempts_delivery", ["delivery_pk", "attempt"], unique=False)
    op.create_table(
        "alert_channels_disabled",
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=256), nullable=False),
        sa.Column("manifest_version", sa.Integer(), nullable=False),
        sa.Column("disabled_at", _time(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "channel", "manifest_version"),
    )


def downgrade() -> None:
    op.drop_table("alert_channels_disabled")
    with op.batch_alter_table("alert_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_attempts_delivery")
    op.drop_table("alert_attempts")
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_deliveries_stream")
        batch_op.drop_index("ix_alert_deliveries_project_channel")
    op.drop_table("alert_deliveries")
    op.create_table(
        "alert_deliveries",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("issue_id", _PK, nullable=False),
        sa.Column("channel", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("delivered_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_alert_deliveries_issue", ["issue_id"], unique=False)
