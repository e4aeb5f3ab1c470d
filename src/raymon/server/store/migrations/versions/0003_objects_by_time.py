"""Index objects by (project_id, ts, id): the object list pages through a project's objects newest first.

Revision ID: 0003_objects_by_time
Revises: 0002_traces_by_received
Create Date: 2026-11-22 22:40:00

Without it, every page of ``GET .../objects`` (no ref or trace given) sorts all
of the project's objects.
"""

from __future__ import annotations

from alembic import op

revision = "0003_objects_by_time"
down_revision = "0002_traces_by_received"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.create_index("ix_objects_project_ts_id", ["project_id", "ts", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.drop_index("ix_objects_project_ts_id")
