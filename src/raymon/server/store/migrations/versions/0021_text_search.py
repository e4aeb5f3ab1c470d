"""An index of texts for the trace list's text search (SQLite FTS5 trigram, PostgreSQL pg_trgm GIN).

Revision ID: 0021_text_search
Revises: 0020_reduce_queue
Create Date: 2026-12-02 16:30:00

``store.text_search`` describes the index and how the search uses it. The texts stored so
far are indexed here (SQLite: FTS5's ``rebuild``; PostgreSQL: ``CREATE INDEX``), which reads
every text once: minutes for tens of millions. Where the index cannot be made (no FTS5
trigram tokenizer; ``CREATE EXTENSION pg_trgm`` refused) a warning is logged and the search
keeps walking traces, as before this revision.
"""

from __future__ import annotations

from alembic import op

from raymon.server.store import text_search

revision = "0021_text_search"
down_revision = "0020_reduce_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text_search.create(op.get_bind())


def downgrade() -> None:
    text_search.drop(op.get_bind())
