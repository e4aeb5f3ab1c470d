"""Jobs: the engine's work queue reshaped for leases, fencing and parking (the Solid Queue design).

Revision ID: 0008_jobs
Revises: 0006_invitations
Create Date: 2026-12-01 23:50:00

The placeholder ``jobs`` table of 0001 was never used, so it is dropped and made again:
``status`` (pending, running, done, parked), ``worker`` and ``attempt`` (the fence of a
completion), ``forgiven`` (attempts that do not count against a kind's ``max_attempts``:
released at shutdown, or made before an operator re-queued a parked job), ``last_error``,
``started_at``, ``finished_at``. Claims find due pending jobs by (status, run_at) and
taken-over ones by (status, lease_until).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import raymon.server.store.coltypes

revision = "0008_jobs"
down_revision = "0007_access_tokens"
branch_labels = None
depends_on = None

_TS = raymon.server.store.coltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_run_at")
        batch_op.drop_index("ix_jobs_project_kind")
    op.drop_table("jobs")
    op.create_table(
        "jobs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("project_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_at", _TS(timezone=True), nullable=False),
        sa.Column("lease_until", _TS(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=256), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("forgiven", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS(timezone=True), nullable=False),
        sa.Column("started_at", _TS(timezone=True), nullable=True),
        sa.Column("finished_at", _TS(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_jobs_key"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_status_run_at", ["status", "run_at"], unique=False)
        batch_op.create_index("ix_jobs_status_lease_until", ["status", "lease_until"], unique=False)
        batch_op.create_index("ix_jobs_project_status_id", ["project_id", "status", "id"], unique=False)
        batch_op.create_index("ix_jobs_status_finished_at", ["status", "finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_finished_at")
        batch_op.drop_index("ix_jobs_project_status_id")
        batch_op.drop_index("ix_jobs_status_lease_until")
        batch_op.drop_index("ix_jobs_status_run_at")
    op.drop_table("jobs")
    op.create_table(
        "jobs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("project_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("run_at", _TS(timezone=True), nullable=False),
        sa.Column("lease_until", _TS(timezone=True), nullable=True),
        sa.Column("leased_by", sa.String(length=256), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS(timezone=True), nullable=False),
        sa.Column("finished_at", _TS(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_project_kind", ["project_id", "kind"], unique=False)
        batch_op.create_index("ix_jobs_status_run_at", ["status", "run_at"], unique=False)
