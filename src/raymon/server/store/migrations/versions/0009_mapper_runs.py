"""Mapper runs: one row per (project, mapper, trace), written with the mapper's tags.

Revision ID: 0009_mapper_runs
Revises: 0006_invitations
Create Date: 2026-12-01 23:50:00

A map job runs once per arriving input of a trace; the row here, inserted (on conflict do
nothing) in the same transaction as the mapper's tags, makes every run after the first a no-op,
so a mapper's tags are written exactly once per trace. ``status`` is ``done`` or ``failed``
(``error`` then says why; the trace has an error tag too).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import raymon.server.store.coltypes

revision = "0009_mapper_runs"
down_revision = "0008_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mapper_runs",
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("mapper", sa.String(length=256), nullable=False),
        sa.Column("trace_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n_tags", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["trace_pk"], ["traces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "mapper", "trace_pk", name="mapper_runs_pkey"),
    )
    with op.batch_alter_table("mapper_runs", schema=None) as batch_op:
        batch_op.create_index("ix_mapper_runs_trace", ["trace_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mapper_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_mapper_runs_trace")
    op.drop_table("mapper_runs")
