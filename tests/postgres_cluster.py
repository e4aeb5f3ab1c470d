"""A throwaway PostgreSQL cluster for one test session: found, started, stopped and deleted.

``tests/conftest.py`` uses it when ``RAYMON_TEST_POSTGRES_URL`` is not set: ``find_bindir()``
looks for ``initdb`` and ``pg_ctl`` (on PATH, in ``pg_config --bindir``, or in Debian's
``/usr/lib/postgresql/<version>/bin``), and ``PostgresCluster`` makes a cluster in a private
temporary directory, serves it on a free port of 127.0.0.1 only (its unix socket in that
directory), tuned for tests (``fsync=off``, 200 connections), and removes it again.

PostgreSQL refuses to run as root; as root the cluster belongs to and runs as the ``postgres``
user (the child processes drop to it; no shell, no ``su``). A cluster whose session died without
cleaning up (SIGKILL, power loss) is removed by the next session (``remove_orphans``).

It must never listen beyond 127.0.0.1, never touch a cluster or directory it did not create,
and never outlive the session that started it when that session ends normally, fails or is
interrupted (the fixture's finaliser and an ``atexit`` hook both stop it, SIGTERM is turned into
an interrupt; stopping twice is fine).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

INSTALL_HINT = (
    "install PostgreSQL's server binaries (Debian/Ubuntu: apt-get install postgresql-15; "
    "or put initdb and pg_ctl on PATH), or set RAYMON_TEST_POSTGRES_URL to a server to use"
)
ROOT_PREFIX = "raymon-test-pg-"
OWNER_FILE = "owner.pid"  # the pid of the pytest process that made the cluster
SERVER_USER = "postgres"  # the account the cluster runs as when the tests run as root
START_TIMEOUT_S = 60
PORT_ENV = "RAYMON_TEST_POSTGRES_PORT"  # optional: a fixed port instead of a free one
DEBIAN_ROOT = Path("/usr/lib/postgresql")  # Debian/Ubuntu: <version>/bin/initdb, not on PATH


class ClusterUnavailable(Exception):
    """PostgreSQL cannot be run here (no binaries, no unprivileged user): the tests skip, saying why."""


class ClusterError(Exception):
    """The binaries are there but the cluster failed to start: the tests fail, showing its log."""


def _has_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl"))


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name)) or (0,)


def find_bindir(path: str | None = None, debian_root: Path = DEBIAN_ROOT) -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH, then ``pg_config --bindir``, then Debian's newest.

    ``path`` (default: ``$PATH``) and ``debian_root`` are where to look, for tests.
    """
    initdb = shutil.which("initdb", path=path)
    if initdb and _has_binaries(Path(initdb).resolve().parent):
        return Path(initdb).resolve().parent
    pg_config = shutil.which("pg_config", path=path)
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and _has_binaries(Path(out.stdout.strip())):
                return Path(out.stdout.strip())
    debian = [p for p in debian_root.glob("*/bin") if _has_binaries(p)]
    return max(debian, key=_version_key) if debian else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_account() -> pwd.struct_passwd | None:
    """None to run as ourselves; the ``postgres`` account when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ClusterUnavailable(
            f"the tests run as root and PostgreSQL refuses to run as root, but there is no "
            f"'{SERVER_USER}' user to run it as (create one: useradd --system {SERVER_USER}), "
            f"or set RAYMON_TEST_POSTGRES_URL"
        ) from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sigterm_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _interrupt_on_sigterm() -> None:
    """Make SIGTERM (a CI timeout, ``kill``) end the session like Ctrl-C, so finalisers and atexit run.

    Python's default for SIGTERM exits at once, skipping both; a handler someone else set is kept.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL,
        None,
    ):
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


class PostgresCluster:
    """One cluster: ``start()`` it, use ``url``, ``stop()`` it (also removes its directory)."""

    def __init__(self, bindir: Path, port: int | None = None) -> None:
        self.bindir = bindir
        self.account = _server_account()
        self.fixed_port = port
        self.port = 0
        self.root: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "postgres.log"

    def _run(self, args: Sequence[str], timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self.account is not None:  # drop root in the child: PostgreSQL refuses it
            kwargs.update(user=self.account.pw_uid, group=self.account.pw_gid, extra_groups=[])
        return subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
            **kwargs,
        )

    def _make_root(self) -> Path:
        base = Path(tempfile.gettempdir())
        if self.account is not None and not os.stat(base).st_mode & 0o001:
            base = Path("/tmp")  # the postgres user must be able to reach its directory
        root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir=base))  # mode 0700: private
        (root / OWNER_FILE).write_text(str(os.getpid()))
        if self.account is not None:
            os.chown(root, self.account.pw_uid, self.account.pw_gid)
        return root

    def start(self) -> PostgresCluster:
        """initdb and start; raises ``ClusterError`` with the log when PostgreSQL does not come up."""
        remove_orphans(self)
        self.root = self._make_root()
        atexit.register(self.stop)
        _interrupt_on_sigterm()
        initdb = self._run(
            [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres"]
            + ["-E", "UTF8", "--locale=C", "--no-sync"]
        )
        if initdb.returncode != 0:
            self.stop()
            raise ClusterError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}{initdb.stderr}")
        for _attempt in range(1 if self.fixed_port else 3):  # a free port can be taken before we bind it
            self.port = self.fixed_port or _free_port()
            options = (
                f"-p {self.port} -h 127.0.0.1 -k {shlex.quote(str(self.root))} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            started = self._run(
                [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-o", options]
                + ["-l", str(self.log_path), "-w", "-t", str(START_TIMEOUT_S), "start"],
                timeout=START_TIMEOUT_S + 10,
            )
            if started.returncode == 0:
                return self
        log = self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""
        self.stop()
        raise ClusterError(
            f"pg_ctl start failed ({started.returncode}) on 127.0.0.1:{self.port}:\n"
            f"{started.stdout}{started.stderr}\n--- postgres.log ---\n{log}"
        )

    def stop(self) -> None:
        """Stop at once (``-m immediate``: the data is thrown away) and delete the directory; idempotent."""
        root, self.root = self.root, None
        if root is None:
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            if (root / "data" / "postmaster.pid").exists():
                self.root = root  # _run's cwd
                self._run(
                    [str(self.bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"]
                )
        self.root = None
        shutil.rmtree(root, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)


def remove_orphans(cluster: PostgresCluster) -> list[Path]:
    """Stop and delete clusters of this module whose pytest process is gone; answers their directories."""
    removed = []
    bases = {Path(tempfile.gettempdir()), Path("/tmp")}
    for root in sorted(p for base in bases for p in base.glob(f"{ROOT_PREFIX}*")):
        try:
            owner = int((root / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being made
        if _pid_alive(owner):
            continue
        orphan = PostgresCluster.__new__(PostgresCluster)
        orphan.bindir, orphan.account, orphan.root = cluster.bindir, cluster.account, root
        orphan.stop()
        removed.append(root)
    return removed
