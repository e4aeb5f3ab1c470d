"""Fixtures shared by the whole suite.

``postgres_url`` is the PostgreSQL server the PostgreSQL-parametrised tests use (see
``tests/server/conftest.py``): the one of ``RAYMON_TEST_POSTGRES_URL`` when that is set (any
server you manage; each test database is created and dropped on it), otherwise a throwaway
cluster the session starts itself from the local PostgreSQL binaries (``postgres_cluster.py``:
initdb in a private temp directory, 127.0.0.1 and a free port only, stopped and deleted when
the session ends, is interrupted or fails; ``RAYMON_TEST_POSTGRES_PORT`` pins its port). The
cluster starts only when a PostgreSQL test runs; without the binaries those tests skip, naming
what to install (or fail, when ``RAYMON_TEST_REQUIRE_POSTGRES`` is set, as ``.ci/run`` does).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres_cluster import (
    INSTALL_HINT,
    PORT_ENV,
    ClusterError,
    ClusterUnavailable,
    PostgresCluster,
    find_bindir,
)
from raymon.wire import event_schema

REPO_ROOT = Path(__file__).resolve().parent.parent
HOUSEPRICES_DIR = REPO_ROOT.parent / "shared" / "data" / "houseprices"
if not HOUSEPRICES_DIR.exists():  # the package keeps its own copy for the demo
    HOUSEPRICES_DIR = REPO_ROOT / "src" / "raymon" / "demo_data"
POSTGRES_ENV = "RAYMON_TEST_POSTGRES_URL"
REQUIRE_ENV = "RAYMON_TEST_REQUIRE_POSTGRES"  # set (CI): fail instead of skipping when PostgreSQL is missing


@pytest.fixture(scope="session")
def houseprices_dir() -> Path:
    return HOUSEPRICES_DIR


@pytest.fixture(scope="session")
def event_validator():  # type: ignore[no-untyped-def]
    """A jsonschema validator for schema/event.schema.json: the contract every logger's output must meet."""
    import jsonschema

    schema = event_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a PostgreSQL server whose ``postgres`` role may create databases (see the docstring)."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        yield url
        return
    unavailable = pytest.fail if os.environ.get(REQUIRE_ENV) else pytest.skip  # CI: never skip silently
    bindir = find_bindir()
    if bindir is None:
        unavailable(f"PostgreSQL tests need initdb and pg_ctl, which were not found: {INSTALL_HINT}")
    port = int(os.environ[PORT_ENV]) if os.environ.get(PORT_ENV) else None
    try:
        cluster = PostgresCluster(bindir, port=port).start()
    except ClusterUnavailable as exc:
        unavailable(str(exc))
    except ClusterError as exc:
        pytest.fail(f"the session's PostgreSQL cluster (from {bindir}) did not start: {exc}", pytrace=False)
    try:
        yield cluster.url
    finally:
        cluster.stop()
