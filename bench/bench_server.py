"""A real ``raymon server`` child process and throwaway databases, for the backend benchmarks.

The benchmarks measure what a user gets: the CLI's server (uvicorn, the real
app, the real store) in its own process, called over HTTP on 127.0.0.1. This
module starts and stops such a process on SQLite (a file in a data directory)
or on PostgreSQL (a database on the server of ``--postgres-url``), and makes
and drops throwaway PostgreSQL databases. It never measures anything and never
touches a database it did not create (or was not given).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

POSTGRES_ENV = "RAYMON_BENCH_POSTGRES_URL"
BENCH_PROJECT_ID = "bench"
BENCH_ADMIN_KEY = "rmn_-P7a-iW_XzkgDB495lsxj7PoF-TV6tGdlcqnN44dkNw"  # random: init keys must be
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sqlite_url_for(data_dir: Path) -> str:
    """The SQLite URL the server uses for ``data_dir`` (see ``Settings.effective_database_url``)."""
    return f"sqlite:///{(data_dir / 'raymon.sqlite3').resolve()}"


class PostgresServer:
    """Makes and drops databases on the PostgreSQL server of a URL like ``postgresql+psycopg://u@h:p/db``."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        if self.url.get_backend_name() != "postgresql":
            raise ValueError(f"--postgres-url must be a postgresql+psycopg:// URL, got {url!r}")
        self.url = self.url.set(drivername="postgresql+psycopg")

    def connect(self, database: str | None = None, autocommit: bool = True) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 5432,
            user=self.url.username or "postgres",
            password=self.url.password,
            dbname=database or self.url.database or "postgres",
            autocommit=autocommit,
        )

    def url_of(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def exists(self, database: str) -> bool:
        with self.connect() as conn:
            return (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
                is not None
            )

    def create(self, database: str | None = None) -> str:
        """A new empty database (a random name unless given); answers its URL."""
        name = database or f"raymon_bench_{uuid.uuid4().hex[:10]}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_of(name)

    def drop(self, database_url: str) -> None:
        name = make_url(database_url).database
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_from(cli_value: str | None) -> PostgresServer | None:
    """The PostgreSQL server to benchmark on: ``--postgres-url``, else ``$RAYMON_BENCH_POSTGRES_URL``, else none."""
    url = cli_value or os.environ.get(POSTGRES_ENV)
    return PostgresServer(url) if url else None


class BenchServer:
    """``python -m raymon.cli server`` on a free port, headless-initialised with project ``bench``.

    ``database_url`` empty means SQLite in ``data_dir``. Use as a context manager.
    """

    def __init__(self, data_dir: Path, database_url: str = "", **env: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.project_id = BENCH_PROJECT_ID
        self.admin_key = BENCH_ADMIN_KEY
        self.extra_env = env
        self.log_path = data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def backend(self) -> str:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or sqlite_url_for(self.data_dir)

    def environment(self) -> dict[str, str]:
        """The server process's environment (also what a worker process beside it needs)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAYMON_")}
        env.update(
            RAYMON_INIT_PROJECT_ID=BENCH_PROJECT_ID,
            RAYMON_INIT_API_KEY=BENCH_ADMIN_KEY,
            RAYMON_INIT_USER_EMAIL="bench@example.com",
            RAYMON_INIT_USER_PASSWORD="bench password, not secret",
            RAYMON_LOG_LEVEL="warning",
        )
        if self.database_url:
            env["RAYMON_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def start(self) -> BenchServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "raymon.cli", "server", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir)]
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
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on the server with the admin key of project ``bench``."""
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120.0, **kwargs)

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
