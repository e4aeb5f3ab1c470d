"""The web UI's sessions: every SQL statement about them.

Functions take the caller's session first (they never open, commit or roll
back a transaction) and answer frozen rows. A session is found by its token's
hash; the rules (lifetimes, hashing, when one is revoked) are
``services.ui_sessions``'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from raymon.server.store.models import UiSession


class UiSessionRow(NamedTuple):
    id: str
    user_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def _row(row: UiSession) -> UiSessionRow:
    return UiSessionRow(row.id, row.user_id, row.created_at, row.last_seen_at, row.expires_at, row.revoked_at)


def insert_session(
    session: Session, session_id: str, token_hash: str, user_id: str, now: datetime, expires_at: datetime
) -> UiSessionRow:
    row = UiSession(
        id=session_id,
        token_hash=token_hash,
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return _row(row)


def session_by_hash(session: Session, token_hash: str) -> UiSessionRow | None:
    row = session.scalars(select(UiSession).where(UiSession.token_hash == token_hash)).first()
    return None if row is None else _row(row)


def touch(session: Session, session_id: str, now: datetime) -> None:
    """Record a use (the idle timeout counts from the last one)."""
    session.execute(update(UiSession).where(UiSession.id == session_id).values(last_seen_at=now))


def revoke(session: Session, session_id: str, now: datetime) -> None:
    session.execute(
        update(UiSession)
        .where(UiSession.id == session_id, UiSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_user_sessions(session: Session, user_id: str, now: datetime, keep: str | None = None) -> int:
    """Revoke every live session of a user (but ``keep``); answer how many."""
    query = update(UiSession).where(UiSession.user_id == user_id, UiSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(UiSession.id != keep)
    return int(session.execute(query.values(revoked_at=now)).rowcount or 0)  # type: ignore[attr-defined]


def delete_expired(session: Session, before: datetime) -> int:
    """Delete sessions that expired or were revoked before ``before``."""
    result = session.execute(
        delete(UiSession).where((UiSession.expires_at < before) | (UiSession.revoked_at < before))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
