"""Slice discovery: roll-up cells per window and combination of explored tag values, and each reducer's findings.

Revision ID: 0014_slice_cells
Revises: 0013_ui_sessions
Create Date: 2026-12-02 03:10:00

``slice_cells`` holds, per (reducer, window, combination of the explored tags' values,
component), the additive counts a reduce pass adds to (rows, n, sum, sum of squares, max,
errors); ``slice_explore`` the explored tags' kept values and the discovery job's last findings.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import raymon.server.store.coltypes

revision = "0014_slice_cells"
down_revision = "0013_ui_sessions"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time() -> raymon.server.store.coltypes.UTCDateTime:
    return raymon.server.store.coltypes.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slice_cells",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("reducer", sa.String(length=256), nullable=False),
        sa.Column("window_start", _time(), nullable=False),
        sa.Column("cell", sa.String(length=2048), nullable=False),
        sa.Column("component", sa.String(length=256), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.Column("value_max", sa.Float(), nullable=True),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "project_id", "reducer", "window_start", "cell", "component", name="uq_slice_cells_cell"
        ),
    )
    op.create_table(
        "slice_explore",
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("reducer", sa.String(length=256), nullable=False),
        sa.Column("vocab", _JSON, nullable=True),
        sa.Column("findings", _JSON, nullable=True),
        sa.Column("discovered_at", _time(), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "reducer"),
    )


def downgrade() -> None:
    op.drop_table("slice_explore")
    op.drop_table("slice_cells")
