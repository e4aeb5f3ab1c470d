"""Reduce windows: tags claimed by reduce passes, per-reducer state, window states and results.

Revision ID: 0010_reduce_windows
Revises: 0006_invitations
Create Date: 2026-12-01 23:50:00

- ``tags.reduced_pass``: NULL until a reduce pass takes the tag (then that pass's number), set
  in the same transaction that writes the merged window state: no ``id > last_id`` polling,
  which loses rows a slower transaction commits later with a lower id. The partial index
  ``ix_tags_unreduced`` holds only grouped tags no pass has taken, so a pass's cost follows
  the new tags, never the history.
- ``reducer_states``: one row per (project, reducer): the pass counter (locked by a pass, so
  passes of one reducer run one at a time) and the kept combinations of each slice space.
- ``reduce_results`` (the placeholder of 0001, reshaped): per (project, reducer, slice,
  window) the mergeable state, the contrast rows and counts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import raymon.server.store.coltypes

revision = "0010_reduce_windows"
down_revision = "0009_mapper_runs"
branch_labels = None
depends_on = None

_UNREDUCED = "reduced_pass IS NULL AND grp IS NOT NULL"


def upgrade() -> None:
    op.add_column("tags", sa.Column("reduced_pass", sa.BigInteger(), nullable=True))  # no table rewrite
    op.create_index(
        "ix_tags_unreduced",
        "tags",
        ["project_id", "grp"],
        unique=False,
        sqlite_where=sa.text(_UNREDUCED),
        postgresql_where=sa.text(_UNREDUCED),
    )
    op.create_table(
        "reducer_states",
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("reducer", sa.String(length=256), nullable=False),
        sa.Column("last_pass", sa.BigInteger(), nullable=False),
        sa.Column("spaces", raymon.server.store.coltypes.json_type(), nullable=True),
        sa.Column("updated_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "reducer"),
    )
    with op.batch_alter_table("reduce_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("n_tags", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("n_alerts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_pass", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("updated_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=True)
        )
        # a pass loads its windows by start: without this, it would read every window of the reducer
        batch_op.create_index(
            "ix_reduce_results_project_reducer_start", ["project_id", "reducer", "window_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reduce_results", schema=None) as batch_op:
        batch_op.drop_index("ix_reduce_results_project_reducer_start")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("last_pass")
        batch_op.drop_column("n_alerts")
        batch_op.drop_column("n_tags")
    op.drop_table("reducer_states")
    op.drop_index("ix_tags_unreduced", table_name="tags")
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_column("reduced_pass")
