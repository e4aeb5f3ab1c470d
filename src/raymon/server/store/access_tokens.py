"""Access tokens (``POST /oauth/token``): every SQL statement about them.

Functions take the caller's session first (they never open, commit or roll
back a transaction) and answer frozen rows. A token is found by its hash
together with its key, so the caller sees at once whether the key was revoked.
Rules (lifetimes, hashing, who may have one) are ``services.access_tokens``'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from raymon.server.store.accounts import KeyRow, key_row
from raymon.server.store.models import AccessToken, ApiKey


class TokenRow(NamedTuple):
    id: str
    key_id: str
    created_at: datetime
    expires_at: datetime


def insert_token(
    session: Session, token_id: str, key_id: str, token_hash: str, created_at: datetime, expires_at: datetime
) -> TokenRow:
    row = AccessToken(
        id=token_id, key_id=key_id, token_hash=token_hash, created_at=created_at, expires_at=expires_at
    )
    session.add(row)
    session.flush()
    return TokenRow(row.id, row.key_id, row.created_at, row.expires_at)


def token_by_hash(session: Session, token_hash: str) -> tuple[TokenRow, KeyRow] | None:
    """The token with this hash and the key it was issued for, or ``None``."""
    query = (
        select(AccessToken, ApiKey)
        .join(ApiKey, ApiKey.id == AccessToken.key_id)
        .where(AccessToken.token_hash == token_hash)
    )
    found = session.execute(query).first()
    if found is None:
        return None
    token, key = found
    return TokenRow(token.id, token.key_id, token.created_at, token.expires_at), key_row(key)


def delete_expired(session: Session, now: datetime) -> int:
    """Forget every token that expired before ``now``; answer how many."""
    result = session.execute(delete(AccessToken).where(AccessToken.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)
