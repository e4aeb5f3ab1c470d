"""Fixtures that run a REAL ``raymon server`` process on a free port, on SQLite and on PostgreSQL.

- ``server``: one server per backend for the whole session (parametrised
  ``sqlite`` / ``postgresql``), headless-initialised with project
  ``test-project``, admin key ``server.admin_key`` and admin user
  ``admin@example.com``. Tests share it, so each test that writes should make
  its own project: ``server.new_project()`` answers a ``ProjectHandle`` with
  an admin key; ``server.key(project_id, "read")`` makes a key of any scopes.
- ``make_server``: a factory for servers with their own settings (limits,
  overload, restart): ``make_server(RAYMON_MAX_BATCH_EVENTS="5")``; each is
  stopped at the end of the test.
- ``backend``: ``"sqlite"`` or ``"postgresql"``. PostgreSQL runs on the server
  of the ``postgres_url`` fixture (tests/conftest.py): ``RAYMON_TEST_POSTGRES_URL``
  when set, else a throwaway cluster the session starts from the local
  PostgreSQL binaries; without either it is skipped, saying what to install.
- ``postgres_databases``: for the ``postgresql`` backend a ``PostgresDatabases``
  that makes and drops the fresh database each server (or store test) gets;
  ``None`` for ``sqlite``, so SQLite tests never start PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from raymon.api import RaymonAPI

TEST_PROJECT_ID = "test-project"
TEST_ADMIN_KEY = "rmn_t1TdBKNoLDJFR8bz3-Ez924csx7esySHF6EgM_Rbi40"  # random, as init keys must be
TEST_USER_EMAIL = "admin@example.com"
TEST_USER_PASSWORD = "correct horse battery staple"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresDatabases:
    """Creates and drops throwaway databases on the PostgreSQL server of ``url`` (the ``postgres_url`` fixture)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self.url = make_url(url)

    def _admin_connection(self) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 5432,
            user=self.url.username or "postgres",
            password=self.url.password,
            dbname=self.url.database or "postgres",
            autocommit=True,
        )

    def create(self) -> str:
        name = f"raymon_test_{uuid.uuid4().hex[:12]}"
        with self._admin_connection() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        with self._admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class ProjectHandle:
    project_id: str
    admin_key: str


class RaymonServer:
    """A ``raymon server`` child process; ``url``, ``admin_key`` and helpers to call it."""

    def __init__(self, data_dir: Path, database_url: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.project_id = TEST_PROJECT_ID
        self.admin_key = TEST_ADMIN_KEY
        self.user_email = TEST_USER_EMAIL
        self.user_password = TEST_USER_PASSWORD
        self.log_path = data_dir / "server.log"
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def backend(self) -> str:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAYMON_")}
        env.update(
            RAYMON_INIT_PROJECT_ID=TEST_PROJECT_ID,
            RAYMON_INIT_API_KEY=TEST_ADMIN_KEY,
            RAYMON_INIT_USER_EMAIL=TEST_USER_EMAIL,
            RAYMON_INIT_USER_PASSWORD=TEST_USER_PASSWORD,
            RAYMON_LOG_LEVEL="warning",
        )
        if self.database_url:
            env["RAYMON_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def start(self, *args: str) -> RaymonServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "raymon.cli", "server", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), *args]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.environment()
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"raymon server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"raymon server did not answer within {START_TIMEOUT} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def restart(self, *args: str) -> RaymonServer:
        self.stop()
        return self.start(*args)

    def database(self) -> Any:
        """A ``Database`` on the server's store, for tests that check what was written."""
        from raymon.server.store.db import Database, sqlite_url

        return Database(self.database_url or sqlite_url(self.data_dir / "raymon.sqlite3"), pool_size=2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- calling it ------------------------------------------------------------------------
    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client on the server, with ``key`` (default: the admin key; "" for none)."""
        key = self.admin_key if key is None else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0, **kwargs)

    def api(self, key: str | None = None) -> RaymonAPI:
        return RaymonAPI(url=self.url, api_key=self.admin_key if key is None else key)

    def new_project(self, name: str | None = None) -> ProjectHandle:
        """A fresh project (created through the API) and its admin key: isolation between tests."""
        with self.client() as client:
            response = client.post("/api/v1/projects", json={"name": name or f"test {uuid.uuid4().hex[:8]}"})
        assert response.status_code == 201, response.text
        body = response.json()
        return ProjectHandle(body["project_id"], body["key"])

    def key(self, project: ProjectHandle | str, scopes: str) -> str:
        """A new key with ``scopes`` (e.g. "read" or "ingest,read") for a project made by ``new_project``."""
        project_id, admin_key = (
            (project.project_id, project.admin_key)
            if isinstance(project, ProjectHandle)
            else (project, self.admin_key)
        )
        with self.client(admin_key) as client:
            response = client.post(f"/api/v1/projects/{project_id}/keys", json={"scopes": scopes})
        assert response.status_code == 201, response.text
        return str(response.json()["key"])

    def __repr__(self) -> str:
        return f"RaymonServer({self.url}, {self.backend})"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        request.getfixturevalue("postgres_url")  # starts the session's cluster, or skips saying why
    return str(request.param)


@pytest.fixture(scope="session")
def postgres_databases(backend: str, request: pytest.FixtureRequest) -> PostgresDatabases | None:
    """Throwaway databases for the ``postgresql`` backend; ``None`` for ``sqlite`` (PostgreSQL is not started)."""
    return PostgresDatabases(request.getfixturevalue("postgres_url")) if backend == "postgresql" else None


@pytest.fixture(scope="session")
def server(
    backend: str, postgres_databases: PostgresDatabases | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RaymonServer]:
    """One shared real server per backend for the session (see the module docstring)."""
    database_url = postgres_databases.create() if backend == "postgresql" and postgres_databases else ""
    # The shared server runs no engine of its own: tests that run jobs against its database (alerts,
    # jobs) run them themselves; tests of the engine start their own server (make_server).
    instance = RaymonServer(
        tmp_path_factory.mktemp(f"server-{backend}"), database_url, {"RAYMON_ENGINE": "off"}
    )
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
        if database_url and postgres_databases:
            postgres_databases.drop(database_url)


@pytest.fixture
def make_server(
    backend: str, postgres_databases: PostgresDatabases | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A factory: ``make_server(**env)`` starts a server with extra ``RAYMON_*`` env vars (fresh database)."""
    started: list[tuple[RaymonServer, str]] = []

    def factory(*args: str, **env: str) -> RaymonServer:
        database_url = postgres_databases.create() if backend == "postgresql" and postgres_databases else ""
        instance = RaymonServer(tmp_path_factory.mktemp(f"server-{backend}"), database_url, env)
        started.append((instance, database_url))
        return instance.start(*args)

    yield factory
    for instance, database_url in started:
        instance.stop()
        if database_url and postgres_databases:
            postgres_databases.drop(database_url)


@pytest.fixture(scope="module")
def make_module_server(
    backend: str, postgres_databases: PostgresDatabases | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """``make_server`` for a whole test module: ``make_module_server(**env)``, stopped after the module."""
    started: list[tuple[RaymonServer, str]] = []

    def factory(*args: str, **env: str) -> RaymonServer:
        database_url = postgres_databases.create() if backend == "postgresql" and postgres_databases else ""
        instance = RaymonServer(tmp_path_factory.mktemp(f"server-{backend}"), database_url, env)
        started.append((instance, database_url))
        return instance.start(*args)

    yield factory
    for instance, database_url in started:
        instance.stop()
        if database_url and postgres_databases:
            postgres_databases.drop(database_url)


@pytest.fixture(scope="module")
def ui_browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (one per module; skips without Chromium).

    Per module, not per session: Playwright's sync API keeps an asyncio loop running in the main
    thread while it is open, and ``asyncio.run`` in any later test would fail ("cannot be called
    from a running event loop").
    """
    from ui_browser import CHROMIUM_FLAGS, chromium_path

    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def ui_page(ui_browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page; a CSP violation it reports fails the test; a screenshot is kept."""
    from ui_browser import SCREENSHOTS, CspWatch, screenshot_name

    context = ui_browser.new_context(accept_downloads=True)
    page = context.new_page()
    watch = CspWatch()
    page.on("console", watch)
    try:
        yield page
        page.wait_for_timeout(100)  # a late console message still counts
        assert watch.violations == [], f"the page reported CSP violations: {watch.violations}"
    finally:
        try:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / screenshot_name(request.node.nodeid)), full_page=True)
        except Exception:  # noqa: BLE001 - a screenshot is an artefact, never the test's verdict
            pass
        context.close()
