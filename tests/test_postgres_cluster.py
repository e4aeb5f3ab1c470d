"""The test session's own PostgreSQL cluster (tests/postgres_cluster.py) is found, serves, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from postgres_cluster import (
    INSTALL_HINT,
    OWNER_FILE,
    PORT_ENV,
    ROOT_PREFIX,
    PostgresCluster,
    find_bindir,
    remove_orphans,
)

TESTS_DIR = Path(__file__).resolve().parent


def _fake_bindir(root: Path, version: str) -> Path:
    bindir = root / version / "bin"
    bindir.mkdir(parents=True)
    for name in ("initdb", "pg_ctl"):
        (bindir / name).write_text("#!/bin/sh\n")
        (bindir / name).chmod(0o755)
    return bindir


def test_the_newest_debian_bindir_is_found_when_path_has_none(tmp_path: Path) -> None:
    _fake_bindir(tmp_path, "9.6")
    newest = _fake_bindir(tmp_path, "15")
    _fake_bindir(tmp_path, "13")
    assert find_bindir(path=str(tmp_path / "empty"), debian_root=tmp_path) == newest


def test_initdb_on_path_wins_over_debian_dirs(tmp_path: Path) -> None:
    on_path = _fake_bindir(tmp_path / "local", "x")
    _fake_bindir(tmp_path / "debian", "16")
    assert find_bindir(path=str(on_path), debian_root=tmp_path / "debian") == on_path


def test_no_binaries_anywhere_finds_none_and_the_hint_says_what_to_install(tmp_path: Path) -> None:
    assert find_bindir(path=str(tmp_path), debian_root=tmp_path) is None
    assert "apt-get install postgresql-15" in INSTALL_HINT and "RAYMON_TEST_POSTGRES_URL" in INSTALL_HINT


@pytest.fixture
def bindir() -> Path:
    found = find_bindir()
    if found is None:
        pytest.skip(f"needs initdb and pg_ctl: {INSTALL_HINT}")
    return found


def _second_port() -> int | None:
    """Next to the session's fixed port when one is set (machines that hand out ports), else any free one."""
    fixed = os.environ.get(PORT_ENV)
    return int(fixed) + 1 if fixed else None


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_cluster_serves_on_localhost_and_stopping_removes_it(bindir: Path) -> None:
    import psycopg

    cluster = PostgresCluster(bindir, port=_second_port()).start()
    root = cluster.root
    assert root is not None and root.name.startswith(ROOT_PREFIX)
    try:
        with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname="postgres") as conn:
            settings = dict(conn.execute("SELECT name, setting FROM pg_settings").fetchall())
        assert settings["listen_addresses"] == "127.0.0.1"
        assert settings["fsync"] == "off" and settings["max_connections"] == "200"
        assert settings["server_encoding"] == "UTF8"
        assert settings["unix_socket_directories"] == str(root)
        assert oct(root.stat().st_mode & 0o777) == "0o700"
    finally:
        cluster.stop()
    assert not root.exists() and not _accepts(cluster.port)
    cluster.stop()  # twice is fine


def test_an_interrupted_session_stops_and_deletes_its_cluster(bindir: Path) -> None:
    """Ctrl-C (SIGINT) and SIGTERM both end a session with the cluster stopped and its directory gone."""
    script = (
        f"import sys, time; sys.path.insert(0, {str(TESTS_DIR)!r})\n"
        "from pathlib import Path\n"
        "from postgres_cluster import PostgresCluster\n"
        f"c = PostgresCluster(Path({str(bindir)!r}), port={_second_port()!r}).start()\n"
        "print(c.root, c.port, flush=True)\n"
        "time.sleep(120)\n"
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        root_text, port_text = child.stdout.readline().split()
        root, port = Path(root_text), int(port_text)
        assert root.exists() and _accepts(port)
        child.send_signal(sig)
        child.wait(timeout=60)
        assert not root.exists(), sig
        assert not _accepts(port), sig


def test_a_cluster_left_by_a_dead_session_is_removed_by_the_next(bindir: Path) -> None:
    """A session killed with SIGKILL cannot clean up; the next session stops and deletes its cluster."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    orphan = PostgresCluster(bindir, port=_second_port()).start()
    assert orphan.root is not None
    (orphan.root / OWNER_FILE).write_text(dead.stdout.strip())  # as if made by that finished process
    root, port = orphan.root, orphan.port
    alive = PostgresCluster(bindir)
    assert root in remove_orphans(alive)
    deadline = time.monotonic() + 10
    while _accepts(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not root.exists() and not _accepts(port)
