"""The reduce claim moves off ``tags``: a queue of the grouped tags no pass has taken yet.

Revision ID: 0020_reduce_queue
Revises: 0019_dash_rollups
Create Date: 2026-12-02 16:30:00

Up to 0019 a pass claimed tags by setting ``tags.reduced_pass``. On PostgreSQL that update
cannot be HOT (the column is in ``ix_tags_unreduced``'s predicate), so every claimed tag wrote
a new entry into every index of ``tags``, indices that grow with history: a pass cost more the
more history the store held (bench/README.md, "Engine: a reduce pass over new data").
``reduce_queue`` holds one row per grouped tag ingest inserted and no pass has taken; a pass
deletes the rows it takes in the transaction that writes the merged state. The tags no pass
had taken are queued here (each is reduced once, by the next pass), and the partial index
goes. ``tags.reduced_pass`` stays (dropping it would rewrite the table on SQLite) but is no
longer written. Downgrade marks every grouped tag that is not queued as taken (``0``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_reduce_queue"
down_revision = "0019_dash_rollups"
branch_labels = None
depends_on = None

_UNREDUCED = "reduced_pass IS NULL AND grp IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "reduce_queue",
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("grp", sa.String(length=256), nullable=False),
        sa.Column("tag_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "grp", "tag_id", name="reduce_queue_pkey"),
        sqlite_with_rowid=False,
    )
    # reads the partial index: what is unreduced, not the history
    op.execute(
        "INSERT INTO reduce_queue (project_id, grp, tag_id) "
        f"SELECT project_id, grp, id FROM tags WHERE {_UNREDUCED}"
    )
    op.drop_index("ix_tags_unreduced", table_name="tags")


def downgrade() -> None:
    op.execute(
        "UPDATE tags SET reduced_pass = 0 WHERE grp IS NOT NULL AND reduced_pass IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM reduce_queue q WHERE q.project_id = tags.project_id AND q.grp = tags.grp "
        "AND q.tag_id = tags.id)"
    )
    op.create_index(
        "ix_tags_unreduced",
        "tags",
        ["project_id", "grp"],
        unique=False,
        sqlite_where=sa.text(_UNREDUCED),
        postgresql_where=sa.text(_UNREDUCED),
    )
    op.drop_table("reduce_queue")
