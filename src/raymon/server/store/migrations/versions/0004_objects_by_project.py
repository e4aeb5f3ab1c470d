"""Key objects by (project_id, id) and remember a digest of every event's content in the ledger.

Revision ID: 0004_objects_by_project
Revises: 0003_objects_by_time
Create Date: 2026-12-01 22:00:00

- ``objects``: the primary key was ``id`` alone, global, while the events
  ledger is per project; project B's object with an event id project A had
  used already was a unique violation that failed B's whole batch on every
  resend. The key becomes ``(project_id, id)``. PostgreSQL swaps the primary
  key constraint in place; SQLite cannot alter a primary key, so the table is
  rebuilt (Alembic's batch mode: copy, drop, rename), with its rows, foreign
  key and indexes, ``ix_objects_project_ts_id`` of 0003 included.
- ``events.content_hash``: nullable, empty for the events stored before; new
  events get a digest of their canonical JSON, so a re-sent event id with a
  different content is answered as a conflict rather than as a duplicate.

The downgrade restores the global key, which fails if two projects now hold
objects with the same id (that is what this revision allows).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import raymon.server.store.coltypes

revision = "0004_objects_by_project"
down_revision = "0003_objects_by_time"
branch_labels = None
depends_on = None

_PK = "objects_pkey"  # PostgreSQL's own name for the table's key since 0001


def _objects_without_key() -> sa.Table:
    """``objects`` as 0003 left it, minus its primary key: what SQLite's rebuild copies from."""
    utc = raymon.server.store.coltypes.UTCDateTime(timezone=True)
    table = sa.Table(
        "objects",
        sa.MetaData(),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("trace_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ref", sa.String(length=256), nullable=False),
        sa.Column("ts", utc, nullable=False),
        sa.Column("data_type", sa.String(length=256), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("store_key", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(["trace_pk"], ["traces.id"], ondelete="CASCADE"),
    )
    sa.Index("ix_objects_trace_ref_ts", table.c.trace_pk, table.c.ref, table.c.ts)
    sa.Index("ix_objects_project_ref_ts", table.c.project_id, table.c.ref, table.c.ts)
    sa.Index("ix_objects_project_ts_id", table.c.project_id, table.c.ts, table.c.id)
    return table


def _set_objects_key(columns: list[str]) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.drop_constraint(_PK, "objects", type_="primary")
        op.create_primary_key(_PK, "objects", columns)
    else:  # SQLite cannot alter a primary key: a new table, the rows copied over
        with op.batch_alter_table("objects", recreate="always", copy_from=_objects_without_key()) as batch_op:
            batch_op.create_primary_key(_PK, columns)


def upgrade() -> None:
    _set_objects_key(["project_id", "id"])
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("content_hash")
    _set_objects_key(["id"])
