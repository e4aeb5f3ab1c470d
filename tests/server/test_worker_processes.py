"""``raymon worker`` processes on one database: one killed with SIGKILL mid-job, every job still done exactly once.

On PostgreSQL (the deployment this is for) and on SQLite (workers of one machine on one file).

The job kind comes from a test-only plugin (tests/server/job_plugin, found through its
dist-info on the workers' ``PYTHONPATH``): each run sleeps, then records its effect in the
transaction that completes the job, so the ``effects`` table counts committed runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from jobs_backend import effects, engine_backend, job_ids
from sqlalchemy import text

from raymon.server.backend import Backend
from raymon.server.engine.jobs import JobSpec
from raymon.server.store import jobs as job_store

PLUGIN_DIR = Path(__file__).parent / "job_plugin"


def _start_worker(
    backend: Backend, data_dir: Path, log: Path, *args: str, **env: str
) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RAYMON_")}
    environment.update(
        RAYMON_DATABASE_URL=backend.database.url.render_as_string(hide_password=False),
        PYTHONPATH=os.pathsep.join([str(PLUGIN_DIR), environment.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        RAYMON_LOG_LEVEL="info",
        **env,
    )
    command = [sys.executable, "-m", "raymon.cli", "worker", "--data-dir", str(data_dir), *args]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)


def _running_on(backend: Backend, pid: int) -> int:
    with backend.reading() as session:
        return int(
            session.scalar(
                text("SELECT COUNT(*) FROM jobs WHERE status = 'running' AND worker LIKE :w"),
                {"w": f"%:{pid}:%"},
            )
            or 0
        )


def _done_by(backend: Backend, pid: int) -> int:
    with backend.reading() as session:
        return int(
            session.scalar(text("SELECT COUNT(*) FROM effects WHERE worker LIKE :w"), {"w": f"%:{pid}:%"})
            or 0
        )


def _wait(condition: Any, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(
        f"{what} within {timeout} s; logs:\n" + "\n".join(p.read_text() for p in logs if p.exists())
    )


def test_two_workers_one_killed_mid_job_every_job_done_exactly_once(
    backend: str, postgres_databases: Any, tmp_path: Path
) -> None:
    total = 90
    with engine_backend(backend, postgres_databases, tmp_path / "data") as db:
        with db.writing() as session:
            job_store.enqueue(session, [JobSpec("test_effect", f"e-{i}", "p") for i in range(total)])
        logs = [tmp_path / "victim.log", tmp_path / "survivor.log"]
        env = {"RAYMON_TEST_JOB_SECONDS": "0.5", "RAYMON_TEST_JOB_LEASE": "4"}
        # The survivor starts once the victim has committed work of its own, so a slow start of the
        # victim on a loaded machine cannot leave it nothing to do; then both claim from one queue.
        victim = _start_worker(
            db, tmp_path / "data", logs[0], "--concurrency", "3", "--poll-interval", "0.1", **env
        )
        survivor: subprocess.Popen[bytes] | None = None
        try:
            _wait(lambda: _done_by(db, victim.pid) > 0, 90, "the victim finishes a job", logs)
            survivor = _start_worker(
                db, tmp_path / "data", logs[1], "--concurrency", "3", "--poll-interval", "0.1", **env
            )
            started = survivor
            _wait(lambda: _running_on(db, started.pid) + _done_by(db, started.pid) > 0
                  and _running_on(db, victim.pid) > 0, 90, "both workers claim jobs", logs)  # fmt: skip
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            with db.reading() as session:
                orphaned = session.scalar(
                    text("SELECT COUNT(*) FROM jobs WHERE status = 'running' AND worker LIKE :w"),
                    {"w": f"%:{victim.pid}:%"},
                )
            assert orphaned and orphaned > 0  # killed mid-job, with its leases held
            _wait(lambda: sum(effects(db).values()) >= total, 120, "every job's effect", logs)
            started.send_signal(signal.SIGTERM)
            assert started.wait(30) == 0, logs[1].read_text()
        finally:
            for process in (victim, survivor):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait(10)
        counted = effects(db)
        assert sorted(counted) == job_ids(db, "test_effect") and set(counted.values()) == {1}, counted
        with db.reading() as session:
            assert job_store.count_by_status(session, "test_effect") == {"done": total}
            taken_over = session.scalar(
                text("SELECT COUNT(*) FROM jobs WHERE kind = 'test_effect' AND attempt >= 2")
            )
            by_victim = session.scalar(
                text("SELECT COUNT(*) FROM effects WHERE worker LIKE :w"), {"w": f"%:{victim.pid}:%"}
            )
        # the killed worker's jobs ran again (and, on a loaded machine, maybe a job whose heartbeat came late)
        assert taken_over is not None and taken_over >= orphaned
        assert by_victim and by_victim > 0  # both workers did work
        assert "stopped" in logs[1].read_text()


def _raymon(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RAYMON_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "raymon.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_worker_help_says_what_it_runs_its_options_and_where_to_read_more() -> None:
    shown = _raymon("worker", "--help")
    assert shown.returncode == 0, shown.stderr
    for part in (
        "--concurrency",
        "--poll-interval",
        "--grace",
        "--once",
        "--nice",
        "SIGTERM",
        "PostgreSQL",
        "engine.md",
    ):
        assert part in shown.stdout, part
    refused = _raymon("worker", "--concurrency", "0")
    assert refused.returncode != 0 and "--concurrency" in refused.stderr


def test_worker_once_runs_the_due_jobs_of_a_plugin_kind_and_exits(tmp_path: Path) -> None:
    with engine_backend("sqlite", None, tmp_path / "data") as db:
        with db.writing() as session:
            job_store.enqueue(session, [JobSpec("test_effect", f"once-{i}", "p") for i in range(3)])
        done = _raymon(
            "worker",
            "--once",
            "--data-dir",
            str(tmp_path / "data"),
            PYTHONPATH=str(PLUGIN_DIR),
            RAYMON_TEST_JOB_SECONDS="0",
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "ran 4 job(s)" in done.stdout  # three of the plugin's kind and the hour's jobs_cleanup
        assert sorted(effects(db)) == job_ids(db, "test_effect")
        missing = _raymon("worker", "--once", "--data-dir", str(tmp_path / "nothing-here"))
        assert missing.returncode != 0 and "no Raymon database" in missing.stderr


def _niceness(pid: int) -> int:
    """A process's nice value (field 19 of /proc/PID/stat, after the parenthesised command name)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads niceness from Linux's /proc")
def test_a_worker_started_with_nice_runs_its_jobs_at_the_lower_priority(tmp_path: Path) -> None:
    mine = _niceness(os.getpid())
    with engine_backend("sqlite", None, tmp_path / "data") as db:
        with db.writing() as session:
            job_store.enqueue(session, [JobSpec("test_effect", f"nice-{i}", "p") for i in range(3)])
        log = tmp_path / "worker.log"
        worker = _start_worker(db, tmp_path / "data", log, "--nice", "7", "--poll-interval", "0.1")
        try:
            _wait(lambda: sum(effects(db).values()) >= 3, 90, "the niced worker's jobs", [log])
            assert _niceness(worker.pid) == min(mine + 7, 19)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0, log.read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
    refused = _raymon("worker", "--nice", "25")
    assert refused.returncode != 0 and "--nice" in refused.stderr and "0<=x<=19" in refused.stderr


def test_a_plugin_answering_something_else_than_job_kinds_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib.metadata import EntryPoint

    from raymon.server.plugins import PluginError, Plugins
    from raymon.server.settings import Settings

    (tmp_path / "plug_jobs_wrong.py").write_text(
        "from raymon.server.plugins import hookimpl\n\n@hookimpl\ndef register_job_kinds():\n    return ['map']\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = Plugins.load(
        Settings(), entry_points=[EntryPoint("plug_jobs_wrong", "plug_jobs_wrong", "raymon")]
    )
    with pytest.raises(PluginError, match="plug_jobs_wrong.*JobKind"):
        plugins.job_kinds()
