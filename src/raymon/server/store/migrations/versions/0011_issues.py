"""Issues: the placeholder ``issues`` table reshaped for the issue state machine, and ``issue_history``.

Revision ID: 0011_issues
Revises: 0006_invitations
Create Date: 2026-12-01 23:45:00

The 0001 placeholder was never written to; its rows (none) are cleared, its loose columns
(``first_seen``, ``last_seen``, ``details``) replaced by the issue's fields (see
``models.Issue``). The table is altered in place, not recreated, so ``alert_deliveries``'s
foreign key to ``issues.id`` stays valid.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import raymon.server.store.coltypes

revision = "0011_issues"
down_revision = "0010_reduce_windows"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time() -> raymon.server.store.coltypes.UTCDateTime:
    return raymon.server.store.coltypes.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.execute("DELETE FROM issues")
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_index("ix_issues_project_status_last")
        batch_op.drop_column("first_seen")
        batch_op.drop_column("last_seen")
        batch_op.drop_column("details")
        batch_op.add_column(sa.Column("episode", sa.Integer(), nullable=False))
        batch_op.add_column(sa.Column("slice_name", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("component", sa.String(length=256), nullable=False))
        batch_op.add_column(sa.Column("check_kind", sa.String(length=32), nullable=False))
        batch_op.add_column(sa.Column("metric", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("value", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("threshold", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Float(), nullable=False))
        batch_op.add_column(sa.Column("machine", _JSON, nullable=False))
        batch_op.add_column(sa.Column("window_start", _time(), nullable=True))
        batch_op.add_column(sa.Column("window_end", _time(), nullable=True))
        batch_op.add_column(sa.Column("opened_at", _time(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", _time(), nullable=False))
        batch_op.add_column(sa.Column("resolved_at", _time(), nullable=True))
        batch_op.add_column(sa.Column("acked_at", _time(), nullable=True))
        batch_op.add_column(sa.Column("acked_by", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("muted_until", _time(), nullable=True))
        batch_op.add_column(sa.Column("tuning", _JSON, nullable=True))
        batch_op.add_column(sa.Column("example_trace_ids", _JSON, nullable=True))
        batch_op.add_column(sa.Column("created_at", _time(), nullable=False))
        batch_op.create_unique_constraint("uq_issues_project_key_episode", ["project_id", "key", "episode"])
        batch_op.create_index(
            "ix_issues_project_status_priority", ["project_id", "status", "priority"], unique=False
        )
    op.create_table(
        "issue_history",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("issue_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=True),
        sa.Column("event", sa.String(length=32), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=True),
        sa.Column("suppressed", sa.String(length=64), nullable=True),
        sa.Column("window_start", _time(), nullable=True),
        sa.Column("window_end", _time(), nullable=True),
        sa.Column("details", _JSON, nullable=True),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("issue_history", schema=None) as batch_op:
        batch_op.create_index("ix_issue_history_issue", ["issue_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issue_history", schema=None) as batch_op:
        batch_op.drop_index("ix_issue_history_issue")
    op.drop_table("issue_history")
    op.execute("DELETE FROM issues")
    with op.batch_alter_table("issues", schema=None) as batch_op:
        batch_op.drop_index("ix_issues_project_status_priority")
        batch_op.drop_constraint("uq_issues_project_key_episode", type_="unique")
        for name in (
            "created_at", "example_trace_ids", "tuning", "muted_until", "acked_by", "acked_at",
            "resolved_at", "updated_at", "opened_at", "window_end", "window_start", "machine",
            "priority", "threshold", "value", "metric", "check_kind", "component", "slice_name", "episode",
        ):  # fmt: skip
            batch_op.drop_column(name)
        batch_op.add_column(sa.Column("first_seen", _time(), nullable=False))
        batch_op.add_column(sa.Column("last_seen", _time(), nullable=False))
        batch_op.add_column(sa.Column("details", _JSON, nullable=True))
        batch_op.create_index(
            "ix_issues_project_status_last", ["project_id", "status", "last_seen"], unique=False
        )
