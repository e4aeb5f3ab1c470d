"""Keep only a short hint of each API key: ``key_prefix`` becomes ``rmn_`` + 4 characters (or 4 characters).

Revision ID: 0005_key_ids
Revises: 0004_objects_by_project
Create Date: 2026-12-01 22:00:00

``key_prefix`` used to hold the first 12 characters of the key in plain text: with the hash
beside it, a chosen key of 16 characters was recovered in seconds. Keys are listed and revoked
by their random ``id``; the prefix is only a hint for people (``rmn_AbCd...``). This rewrites
every existing row's prefix to the hint (the rule of ``services.auth.key_hint``, copied here so
that the migration stays as it is when the rule changes). It touches ``api_keys`` only.

Downgrade cannot bring the removed characters back: it leaves the hints as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_key_ids"
down_revision = "0004_objects_by_project"
branch_labels = None
depends_on = None

_KEYS = sa.table("api_keys", sa.column("id", sa.String), sa.column("key_prefix", sa.String))


def _hint(prefix: str) -> str:
    return prefix[:8] if prefix.startswith("rmn_") else prefix[:4]


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_KEYS.c.id, _KEYS.c.key_prefix)).all()
    for key_id, prefix in rows:
        hint = _hint(prefix)
        if hint != prefix:
            conn.execute(sa.update(_KEYS).where(_KEYS.c.id == key_id).values(key_prefix=hint))


def downgrade() -> None:
    pass  # the characters removed are gone; shorter hints are still valid rows
