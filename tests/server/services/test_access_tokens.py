"""Access tokens on a controlled clock: they live exactly ``access_token_seconds``, die with their key,
and expired ones are forgotten. On a real database (SQLite and PostgreSQL), through the services and
a ``Backend`` (the HTTP flow is in tests/server/test_oauth_token.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from raymon.server.backend import Backend, build_backend
from raymon.server.services import access_tokens, auth
from raymon.server.services.access_tokens import OAuthError, TokenRequest
from raymon.server.settings import Settings
from raymon.server.store.models import AccessToken

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def token_backend(backend: str, postgres_databases, tmp_path: Path, clock: Clock) -> Iterator[Backend]:  # type: ignore[no-untyped-def]
    url = postgres_databases.create() if backend == "postgresql" else ""
    settings = Settings(
        data_dir=tmp_path, database_url=url, access_token_seconds=600, token_failures_per_minute=3
    )
    built = build_backend(settings, clock=clock)
    built.database.migrate()
    auth.new_project(built, "P", "p")
    yield built
    built.close()
    if url:
        postgres_databases.drop(url)


def _grant(b: Backend, secret: str, address: str = "10.0.0.1") -> access_tokens.TokenGrant:
    return access_tokens.issue_token(b, TokenRequest("client_credentials", "svc", secret), address)


def test_a_token_lives_exactly_its_lifetime_with_its_keys_scopes(
    token_backend: Backend, clock: Clock
) -> None:
    row, key = auth.add_key(token_backend, "p", "ingest")
    grant = _grant(token_backend, key)
    assert (grant.expires_in, grant.key_id, grant.project_id) == (600, row.id, "p")
    clock.now = START + timedelta(seconds=599)
    principal = access_tokens.principal_for_bearer(token_backend, grant.access_token)
    assert principal is not None and principal.id == row.id
    assert principal.grants == {"p": frozenset({"ingest"})}
    clock.now = START + timedelta(seconds=600)
    assert access_tokens.principal_for_bearer(token_backend, grant.access_token) is None


def test_revoking_the_key_ends_the_token_and_no_new_one_is_granted(token_backend: Backend) -> None:
    row, key = auth.add_key(token_backend, "p", "read")
    grant = _grant(token_backend, key)
    auth.revoke_key(token_backend, row.id, "p")
    assert access_tokens.principal_for_bearer(token_backend, grant.access_token) is None
    with pytest.raises(OAuthError) as refused:
        _grant(token_backend, key)
    assert (refused.value.error, refused.value.status_code) == ("invalid_client", 401)


def test_expired_tokens_are_forgotten_when_a_new_one_is_granted(token_backend: Backend, clock: Clock) -> None:
    _, key = auth.add_key(token_backend, "p", "read")
    _grant(token_backend, key)
    _grant(token_backend, key)
    clock.now = START + timedelta(hours=1)
    kept = _grant(token_backend, key)
    with token_backend.reading() as session:
        assert session.scalar(select(func.count()).select_from(AccessToken)) == 1
    assert access_tokens.principal_for_bearer(token_backend, kept.access_token) is not None


def test_failures_are_counted_per_address(token_backend: Backend) -> None:
    _, key = auth.add_key(token_backend, "p", "read")
    for _ in range(3):
        with pytest.raises(OAuthError):
            _grant(token_backend, "rmn_wrong", address="10.0.0.9")
    with pytest.raises(OAuthError) as limited:
        _grant(token_backend, key, address="10.0.0.9")
    assert (limited.value.error, limited.value.status_code) == ("slow_down", 429)
    assert 1 <= limited.value.retry_after <= 61
    assert _grant(token_backend, key, address="10.0.0.10").project_id == "p"  # another address
