"""Each trace's tag terms under a GIN index, kept by triggers (PostgreSQL; nothing on SQLite).

Revision ID: 0022_trace_terms
Revises: 0021_text_search
Create Date: 2026-12-04 19:20:00

``store.tag_terms`` describes the table and how the trace list uses it. The terms of the tags
stored so far are computed here, which reads every tag once: about 10 s a million traces, and
the GIN index's build about 3 s more.
"""

from __future__ import annotations

from alembic import op

from raymon.server.store import tag_terms

revision = "0022_trace_terms"
down_revision = "0021_text_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tag_terms.create(op.get_bind())


def downgrade() -> None:
    tag_terms.drop(op.get_bind())
