"""Invitations: a role in a project offered to an e-mail address, enrolled when the person accepts.

Revision ID: 0006_invitations
Revises: 0005_key_ids
Create Date: 2026-12-01 22:05:00

Before, a project admin adding an address gave an existing user of another project a role at
once (and learnt that the address was registered). Now ``POST .../users`` makes a row here; the
person accepts it with its token (stored as SHA-256 only) and their e-mail and password.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import raymon.server.store.coltypes

revision = "0006_invitations"
down_revision = "0005_key_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", raymon.server.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index("ix_invitations_project_email", ["project_id", "email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_invitations_project_email")
    op.drop_table("invitations")
