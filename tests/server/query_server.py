"""A real backend process for the query API tests, on SQLite or on PostgreSQL, plus data-loading helpers.

The server is ``uvicorn --factory raymon.server.app:create_app`` in a subprocess
on a free port with a temporary data dir, initialised headless with an admin
key. PostgreSQL runs only when ``RAYMON_TEST_POSTGRES_URL`` is set (a fresh
database per server), and is skipped with that reason otherwise.
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
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from raymon.api import RaymonAPI
from raymon.wire import Event

ADMIN_KEY = "rmn_query_tests_admin_key_0123456789"
PROJECT = "qproj"


@dataclass
class QueryServer:
    url: str
    project_id: str
    admin_key: str
    backend: str

    def api(self, key: str | None = None) -> RaymonAPI:
        return RaymonAPI(self.url, key or self.admin_key)

    def new_key(self, scopes: list[str]) -> str:
        with self.api() as api:
            resp = api.post(f"/api/v1/projects/{self.project_id}/keys", json={"scopes": scopes, "name": "t"})
            assert resp.status_code == 201, resp.text
            key: str = resp.json()["key"]
            return key

    def new_project(self, project_id: str) -> str:
        """Create another project; answers its admin key."""
        with self.api() as api:
            resp = api.post("/api/v1/projects", json={"name": project_id, "project_id": project_id})
            assert resp.status_code == 201, resp.text
            key: str = resp.json()["key"]
            return key

    def ingest(self, events: list[Event], project_id: str | None = None) -> None:
        with self.api() as api:
            for start in range(0, len(events), 2000):
                resp = api.ingest(project_id or self.project_id, events[start : start + 2000])
                assert resp.ok, resp.text
                body = resp.json()
                assert not body.get("rejected"), body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_database() -> Iterator[str]:
    base_url = os.environ.get("RAYMON_TEST_POSTGRES_URL")
    if not base_url:
        pytest.skip("set RAYMON_TEST_POSTGRES_URL to run the query API tests on PostgreSQL")
    name = f"raymon_query_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_server(backend: str, data_dir: Path) -> Iterator[QueryServer]:
    """Start a server process on ``backend`` ("sqlite" or "postgresql"), yield it, stop it."""
    database_urls = _postgres_database() if backend == "postgresql" else iter([""])
    database_url = next(database_urls)
    port = free_port()
    env = {
        **os.environ,
        "RAYMON_DATA_DIR": str(data_dir),
        "RAYMON_DATABASE_URL": database_url,
        "RAYMON_INIT_PROJECT_ID": PROJECT,
        "RAYMON_INIT_API_KEY": ADMIN_KEY,
        "RAYMON_INIT_USER_EMAIL": "admin@example.com",
        "RAYMON_INIT_USER_PASSWORD": "correct horse battery",
    }
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "raymon.server.app:create_app", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {(data_dir / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {(data_dir / 'server.log').read_text()[-3000:]}")
            time.sleep(0.1)
        yield QueryServer(url=url, project_id=PROJECT, admin_key=ADMIN_KEY, backend=backend)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        for _ in database_urls:  # drop the PostgreSQL database
            pass


def event(trace_id: str, kind: str, ts: str, project_id: str = PROJECT, **fields: Any) -> Event:
    """A wire event with a fixed timestamp (so tests control trace order)."""
    return {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "project_id": project_id,
        "trace_id": trace_id,
        "ts": ts,
        "kind": kind,
        **fields,
    }


def tags_event(
    trace_id: str, ts: str, tags: dict[str, Any], project_id: str = PROJECT, type_: str = "label"
) -> Event:
    return event(
        trace_id,
        "tags",
        ts,
        project_id,
        tags=[{"name": n, "value": v, "type": type_, "group": None} for n, v in tags.items()],
    )
