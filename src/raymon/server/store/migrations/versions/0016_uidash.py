"""Reduce summaries: each window's dashboard numbers in a narrow table of their own.

Revision ID: 0016_uidash
Revises: 0014_slice_cells
Create Date: 2026-12-02 03:20:00

A ``reduce_results`` row holds a window's mergeable state and every contrast row (tens of
kilobytes for a profile of 20 components); a dashboard over a week of 1-minute windows
needs only the headline metric per (check, component) and the scores. ``reduce_summaries``
keeps those values (compact JSON text), with the window's times and counts, one row per
result row (deleted with it), keyed and on SQLite clustered (WITHOUT ROWID) by (project,
reducer, slice, window start); ``reduce_summary_layouts`` says once what the values are
(their keys and thresholds). Existing results are summarised here (their rows
give every check; the production scores need the state and stay absent until the window
is reduced again).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

import raymon.server.store.coltypes

revision = "0016_uidash"
down_revision = "0014_slice_cells"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    op.create_table(
        "reduce_summaries",
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("reducer", sa.String(length=256), nullable=False),
        sa.Column("slice", sa.String(length=1024), nullable=False),
        sa.Column("window_start", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("result_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("window_end", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("n_tags", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("n_alerts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("layout", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["result_id"], ["reduce_results.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "reducer", "slice", "window_start"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("reduce_summaries", schema=None) as batch_op:
        batch_op.create_index("ix_reduce_summaries_result", ["result_id"], unique=False)
    op.create_table(
        "reduce_summary_layouts",
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("reducer", sa.String(length=256), nullable=False),
        sa.Column("layout", sa.String(length=64), nullable=False),
        sa.Column("keys", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "reducer", "layout"),
    )
    _backfill()


def _backfill() -> None:
    from raymon.server.engine.profile_reducer import window_summary

    bind = op.get_bind()
    results = sa.table(
        "reduce_results",
        sa.column("id"),
        sa.column("project_id"),
        sa.column("reducer"),
        sa.column("slice"),
        sa.column("window_start"),
        sa.column("window_end"),
        sa.column("n_tags"),
        sa.column("n_alerts"),
        sa.column("result"),
    )
    layouts = sa.table(
        "reduce_summary_layouts",
        sa.column("project_id"),
        sa.column("reducer"),
        sa.column("layout"),
        sa.column("keys"),
    )
    summaries = sa.table(
        "reduce_summaries",
        sa.column("result_id"),
        sa.column("layout"),
        sa.column("project_id"),
        sa.column("reducer"),
        sa.column("slice"),
        sa.column("window_start"),
        sa.column("window_end"),
        sa.column("n_tags"),
        sa.column("n_alerts"),
        sa.column("summary"),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(results).where(results.c.id > last).order_by(results.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        values: list[dict[str, Any]] = []
        seen: dict[tuple[str, str, str], str] = {}
        for r in rows:
            result = r.result
            if isinstance(result, str):
                result = json.loads(result)
            made = window_summary((result or {}).get("rows", []), {})
            seen[(r.project_id, r.reducer, made.layout)] = made.keys
            values.append(
                {
                    "result_id": r.id,
                    "layout": made.layout,
                    "project_id": r.project_id,
                    "reducer": r.reducer,
                    "slice": r.slice,
                    "window_start": r.window_start,
                    "window_end": r.window_end,
                    "n_tags": r.n_tags,
                    "n_alerts": r.n_alerts,
                    "summary": made.values,
                }
            )
        for (project_id, reducer, layout), keys in seen.items():
            known = bind.execute(
                sa.select(layouts.c.layout).where(
                    layouts.c.project_id == project_id,
                    layouts.c.reducer == reducer,
                    layouts.c.layout == layout,
                )
            ).first()
            if known is None:
                bind.execute(
                    sa.insert(layouts).values(
                        project_id=project_id, reducer=reducer, layout=layout, keys=keys
                    )
                )
        bind.execute(sa.insert(summaries), values)
        last = rows[-1].id


def downgrade() -> None:
    op.drop_table("reduce_summary_layouts")
    with op.batch_alter_table("reduce_summaries", schema=None) as batch_op:
        batch_op.drop_index("ix_reduce_summaries_result")
    op.drop_table("reduce_summaries")
