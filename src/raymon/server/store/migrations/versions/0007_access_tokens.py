"""Access tokens: short-lived bearer tokens issued for an API key by ``POST /oauth/token``.

Revision ID: 0007_access_tokens
Revises: 0006_invitations
Create Date: 2026-12-01 23:50:00

The original Raymon client logs in with the OAuth 2 client-credentials grant before any call;
the token it gets is stored here as SHA-256 only, with the key it stands for and when it expires.
A token has no scopes of its own: each use reads its key (revoked key, dead token).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import raymon.server.store.coltypes

revision = "0007_access_tokens"
down_revision = "0006_invitations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_tokens_key_id"), ["key_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_tokens_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_tokens_expires_at"))
        batch_op.drop_index(batch_op.f("ix_access_tokens_key_id"))
    op.drop_table("access_tokens")
