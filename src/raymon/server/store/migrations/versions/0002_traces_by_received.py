"""Index traces by (project_id, id): the trace list pages through a project's traces in received order.

Revision ID: 0002_traces_by_received
Revises: 0001_core_tables
Create Date: 2026-11-22 22:00:00

Without it, listing a small project's traces in a store shared with a large
one walks the large one's traces too (the primary key is not per project).
"""

from __future__ import annotations

from alembic import op

revision = "0002_traces_by_received"
down_revision = "0001_core_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.create_index("ix_traces_project_id", ["project_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("traces", schema=None) as batch_op:
        batch_op.drop_index("ix_traces_project_id")
