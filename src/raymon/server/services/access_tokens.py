"""The OAuth 2 client-credentials grant (RFC 6749 section 4.4): a short-lived token for an API key.

The original Raymon client (0.0.39) logs in before any call by posting
``grant_type=client_credentials`` with a ``client_id`` and a ``client_secret``
to ``{auth_url}/oauth/token``, then sends ``Authorization: Bearer <access_token>``.
Here the ``client_secret`` is an API key of the project, the ``client_id`` is
any label (the original's Auth0 client id, or the key's id) and ``audience``
is accepted and ignored. The token (``rmt_`` + 32 random bytes) is stored as
its SHA-256 only, with the key it was issued for and its expiry
(``access_token_seconds``, ``RAYMON_ACCESS_TOKEN_SECONDS``). It carries nothing
of its own: every use reads its key, so it has the key's project and scopes,
and revoking the key ends its tokens at once.

Failed attempts (a wrong secret, an unsupported grant, a malformed request)
are counted per client address; past ``token_failures_per_minute``
(``RAYMON_TOKEN_FAILURES_PER_MINUTE``) in a moving minute that address is
answered ``429`` until the window frees, right secret or not. The count lives
in the process (``limits``' memory storage): each server replica counts its own.

Errors are ``OAuthError`` (the RFC's ``error`` codes); the route words them as
``{"error", "error_description"}``. This module never parses HTTP, never logs a
secret or a token and runs no SQL (``store.access_tokens`` does).
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from raymon.server.services.auth import Principal, expand_scopes, hash_key
from raymon.server.store import access_tokens as token_store
from raymon.server.store import accounts
from raymon.server.store.db import Session

if TYPE_CHECKING:
    from raymon.server.backend import Backend

TOKEN_PREFIX = "rmt_"
CLIENT_CREDENTIALS = "client_credentials"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
MACHINE_CREDENTIALS_HINT = (
    "this Raymon server has no interactive (device) login: give the client machine credentials, "
    "an API key of the project as client_secret (in the original client's secrets file: "
    '{"m2m": {"<project_id>": {"config": {"auth_url", "audience", "client_id", "grant_type": '
    '"client_credentials"}, "secret": "<API key>"}}}); see docs/migration.md'
)


class OAuthError(Exception):
    """A refused token request, in the words of RFC 6749 section 5.2 (``error``) and ours (``description``)."""

    def __init__(self, error: str, description: str, status_code: int = 400, retry_after: int = 0) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status_code = status_code
        self.retry_after = retry_after


@dataclass(frozen=True)
class TokenRequest:
    """What a client sent to the token endpoint, as text (``None``: not sent)."""

    grant_type: str | None
    client_id: str | None = None
    client_secret: str | None = None
    audience: str | None = None  # the original client sends its Auth0 audience: accepted, ignored


@dataclass(frozen=True)
class TokenGrant:
    """An issued token: what the endpoint answers (``to_json``) and whose key it stands for."""

    access_token: str
    expires_in: int
    key_id: str
    project_id: str

    def to_json(self) -> dict[str, object]:
        return {"access_token": self.access_token, "token_type": "Bearer", "expires_in": self.expires_in}


@dataclass
class FailedAttempts:
    """Failed token requests per client address in a moving minute (``limits``, in this process)."""

    per_minute: int
    _limiter: MovingWindowRateLimiter = field(init=False, repr=False)
    _item: RateLimitItemPerMinute = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._item = RateLimitItemPerMinute(self.per_minute)

    def blocked(self, address: str) -> int:
        """Seconds until ``address`` may try again (0: it may now)."""
        if self._limiter.test(self._item, address):
            return 0
        stats = self._limiter.get_window_stats(self._item, address)
        return max(1, int(stats.reset_time - time.time()) + 1)

    def count(self, address: str) -> None:
        self._limiter.hit(self._item, address)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue_token(backend: Backend, request: TokenRequest, client_address: str) -> TokenGrant:
    """Grant a token for the API key in ``request.client_secret``, or raise ``OAuthError``.

    Every refusal but the rate limit's own counts as a failed attempt of ``client_address``.
    """
    failures = backend.token_failures
    wait = failures.blocked(client_address)
    if wait:
        raise OAuthError(
            "slow_down",
            f"too many failed token requests from {client_address} (more than "
            f"token_failures_per_minute={failures.per_minute}, RAYMON_TOKEN_FAILURES_PER_MINUTE): "
            f"retry in {wait} s",
            status_code=429,
            retry_after=wait,
        )
    try:
        return _grant(backend, request)
    except OAuthError:
        failures.count(client_address)
        raise


def _grant(backend: Backend, request: TokenRequest) -> TokenGrant:
    grant_type = request.grant_type
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required: send grant_type=client_credentials")
    if grant_type == DEVICE_CODE:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r}: {MACHINE_CREDENTIALS_HINT}")
    if grant_type != CLIENT_CREDENTIALS:
        raise OAuthError(
            "unsupported_grant_type",
            f"grant_type {grant_type[:100]!r} is not supported: this server grants client_credentials only",
        )
    secret = request.client_secret
    if not secret or "\x00" in secret or len(secret) > 512:
        raise OAuthError(
            "invalid_client",
            "client authentication failed: send the project's API key as client_secret",
            status_code=401,
        )
    now = backend.clock()
    lifetime = backend.settings.access_token_seconds
    token = new_token()
    with backend.writing() as session:
        key = accounts.key_by_hash(session, hash_key(secret))
        if key is None or key.revoked_at is not None:
            raise OAuthError(
                "invalid_client",
                "client authentication failed: client_secret is not an API key of this server, or it was revoked",
                status_code=401,
            )
        token_store.delete_expired(session, now)
        token_store.insert_token(
            session,
            token_id=uuid.uuid4().hex,
            key_id=key.id,
            token_hash=hash_key(token),
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime),
        )
    return TokenGrant(access_token=token, expires_in=lifetime, key_id=key.id, project_id=key.project_id)


def principal_for_bearer(backend: Backend, token: str) -> Principal | None:
    """``principal_for_token`` in a read transaction of its own, at ``backend.clock()``."""
    with backend.reading() as session:
        return principal_for_token(session, token, backend.clock())


def principal_for_token(session: Session, token: str, now: datetime) -> Principal | None:
    """The caller holding access token ``token``: its key's project and scopes; ``None`` if unusable.

    Unusable: unknown, expired at ``now``, or issued for a key that was revoked since.
    """
    found = token_store.token_by_hash(session, hash_key(token))
    if found is None:
        return None
    row, key = found
    if row.expires_at <= now or key.revoked_at is not None:
        return None
    return Principal(kind="key", id=key.id, grants={key.project_id: expand_scopes(key.scopes.split(","))})
