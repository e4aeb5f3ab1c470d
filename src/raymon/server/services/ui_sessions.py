"""Signing in to the web UI: who a browser's session cookie belongs to.

A login checks the password (``auth.authenticate_user``, which replaces an
old-style hash on success) and makes a session; failed ones are counted per
client address and per account and, past the limits, refused for a while
(``services.login_attempts``, ``TooManyAttemptsError``). A session:
the cookie gets a random token (32 bytes), the ``ui_sessions`` table its
SHA-256 only, so a leaked table signs nobody in. A session ends at logout, at
a password change (``revoke_user_sessions``), after ``IDLE`` without use or
``LIFETIME`` after it began. The viewer's grants are read from their
memberships on every request, so a removed role takes effect at once.

This module never parses HTTP and never logs a token or a password.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from raymon.server.services import auth, passwords
from raymon.server.services.auth import Principal
from raymon.server.services.errors import NotAuthenticatedError, NotFoundError
from raymon.server.store import accounts, ui_sessions

if TYPE_CHECKING:
    from raymon.server.backend import Backend

COOKIE = "raymon_session"
LIFETIME = timedelta(days=14)
IDLE = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=5)  # last_seen_at is written at most this often (reads stay reads)


@dataclass(frozen=True)
class Viewer:
    """A signed-in person: their session, account and what they may do in which project."""

    session_id: str
    user_id: str
    email: str
    principal: Principal

    @property
    def project_ids(self) -> list[str]:
        return self.principal.project_ids

    def allows(self, project_id: str, scope: str) -> bool:
        return self.principal.allows(project_id, scope)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(backend: Backend, email: str, password: str, client_address: str = "unknown") -> str | None:
    """A new session's token if the password is the user's, else None (same answer for every failure).

    Raises ``TooManyAttemptsError`` (with ``retry_after``) while ``client_address`` or the account
    of ``email`` has failed too often, whatever the password.
    """
    attempts = backend.login_attempts
    attempts.check(client_address, email)
    # The password is checked (and an old hash's replacement computed) in a read transaction: on
    # SQLite a write transaction holds the process's write lock, which ingest waits for.
    with backend.reading() as session:
        check = auth.check_sign_in(session, email, password)
    if check is None:
        attempts.failed(client_address, email)
        return None
    token = secrets.token_urlsafe(32)
    now = backend.clock()
    with backend.writing() as session:
        auth.save_rehash(session, check)
        ui_sessions.insert_session(
            session, uuid.uuid4().hex, _hash(token), check.user.id, now, now + LIFETIME
        )
    attempts.succeeded(email)
    return token


def change_password(
    backend: Backend, who: Viewer, current: str, new: str, client_address: str = "unknown"
) -> int:
    """Give the viewer's account the password ``new`` if ``current`` is its password now.

    Every other session of the account ends (a browser left signed in elsewhere, or a thief's);
    the viewer's own stays. Answers how many sessions ended. A wrong ``current`` is a failed
    sign-in (counted, and refused past the limits like one: a stolen session cannot guess the
    password); ``new`` must pass ``passwords.check_new_password``, the CLI's rule. Both hashes are
    computed outside the write transaction.
    """
    attempts = backend.login_attempts
    attempts.check(client_address, who.email)
    with backend.reading() as session:
        user = accounts.user_by_id(session, who.user_id)
    if user is None:
        raise NotFoundError("this account no longer exists")
    if not passwords.verify_password(current, user.password_hash):
        attempts.failed(client_address, who.email)
        raise NotAuthenticatedError("the current password is not right: nothing was changed")
    new_hash = passwords.hash_password(passwords.check_new_password(new))
    with backend.writing() as session:
        accounts.set_password_hash(session, user.id, new_hash)
        return ui_sessions.revoke_user_sessions(session, user.id, backend.clock(), keep=who.session_id)


def viewer(backend: Backend, token: str) -> Viewer | None:
    """Who holds ``token``, or None when it is unknown, revoked, expired or idle too long."""
    if not token:
        return None
    now = backend.clock()
    with backend.reading() as session:
        row = ui_sessions.session_by_hash(session, _hash(token))
        if row is None or not _live(row, now):
            return None
        user = accounts.user_by_id(session, row.user_id)
        principal = auth.principal_for_user(session, row.user_id)
        if user is None or principal is None:
            return None
    if now - row.last_seen_at > TOUCH_EVERY:
        with backend.writing() as session:
            ui_sessions.touch(session, row.id, now)
    return Viewer(session_id=row.id, user_id=user.id, email=user.email, principal=principal)


def _live(row: ui_sessions.UiSessionRow, now: datetime) -> bool:
    return row.revoked_at is None and now < row.expires_at and now - row.last_seen_at < IDLE


def logout(backend: Backend, token: str) -> None:
    """End the session of ``token`` (nothing when it is unknown)."""
    with backend.writing() as session:
        row = ui_sessions.session_by_hash(session, _hash(token))
        if row is not None:
            ui_sessions.revoke(session, row.id, backend.clock())
