"""What the reduce claim's bookkeeping costs ingest: an in-process A/B/C, SQLite and PostgreSQL.

The same events (``--events`` traces of 20 tags in a profile group + 1 ungrouped tag, the worst
case: every tag but one is queued for the reduce passes) stored through
``services.ingest.store_events`` in batches of 1,000 on a fresh store, three ways, in turns
``--repeat`` times:

- ``queue``: as migrated (0020): ingest writes a ``reduce_queue`` row per grouped tag it inserts;
- ``index``: the claim of migrations 0010-0019: no queue rows, the partial index
  ``ix_tags_unreduced`` (grouped tags with ``reduced_pass IS NULL``) made again on ``tags``;
- ``none``: neither (what ingest costs with no claim bookkeeping at all).

The best run of each counts, and each run's ratio to the ``none`` run of its round is printed
(median and spread), for wall time and for CPU time (this process's, which holds SQLite's work,
plus PostgreSQL's backends' from ``/proc``: steadier than wall time on a shared machine). ``--pg URL``: also on PostgreSQL (a database ``reducequeue_ingest`` made
and dropped there).

    python bench/reduce_index_ingest.py [--events 30000] [--repeat 3] [--pg URL] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

WORK_DIR = Path(tempfile.gettempdir()) / "raymon-bench-reduce-index"
MODES = ("none", "index", "queue")
PG_DB = "reducequeue_ingest"
_UNREDUCED = (
    "CREATE INDEX ix_tags_unreduced ON tags (project_id, grp) WHERE reduced_pass IS NULL AND grp IS NOT NULL"
)


def events(n: int) -> list[dict[str, Any]]:
    from raymon.wire import tags_event

    base = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        tags = [
            {"name": f"x{j:02d}", "value": float(i % 97 + j), "type": "profile-input", "group": "bench@1.0.0"}
            for j in range(20)
        ]
        tags.append({"name": "client", "value": f"c{i % 10}", "type": "label", "group": None})
        event = tags_event("bench", f"t{i}", tags)
        event["ts"] = (base + timedelta(seconds=i)).isoformat(timespec="microseconds")
        out.append(event)
    return out


@contextmanager
def queue_writes(on: bool) -> Iterator[None]:
    """The writers' queue statements as they are (``on``), or left out (the tag upsert alone)."""
    from raymon.server.store import write_postgresql, write_sqlite

    saved = write_postgresql._TAGS, write_sqlite._QUEUE
    if not on:
        upsert = write_postgresql._TAGS.split(" INSERT INTO reduce_queue")[0]
        write_postgresql._TAGS = upsert + " SELECT count(*) FROM written WHERE %s::text IS NOT NULL"
        write_sqlite._QUEUE = "SELECT ?"
    try:
        yield
    finally:
        write_postgresql._TAGS, write_sqlite._QUEUE = saved


def _pg_admin(pg: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(pg.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(statement)


def _backend_cpu(database: Any) -> dict[int, float]:
    """CPU seconds (user + system, ``/proc``) of each server backend connected to the bench's database."""
    from sqlalchemy import text

    tick = os.sysconf("SC_CLK_TCK")
    with database.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": PG_DB}
        ).scalars()
        out = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def run(mode: str, batch: list[dict[str, Any]], pg: str | None) -> tuple[float, float]:
    """One run: events/s (wall) and the CPU seconds per 1,000 events (this process + PostgreSQL's backends)."""
    from sqlalchemy import text

    from raymon.server.backend import build_backend
    from raymon.server.services import auth
    from raymon.server.services.ingest import store_events
    from raymon.server.settings import Settings
    from raymon.server.store.db import Database, sqlite_url

    data = WORK_DIR / mode
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    if pg:
        _pg_admin(pg, f"DROP DATABASE IF EXISTS {PG_DB}")
        _pg_admin(pg, f"CREATE DATABASE {PG_DB}")
        url = pg.rsplit("/", 1)[0] + "/" + PG_DB
    else:
        url = sqlite_url(data / "raymon.sqlite3")
    database = Database(url)
    database.migrate()
    if mode == "index":
        with database.connect() as conn:
            conn.execute(text(_UNREDUCED))
            conn.commit()
    backend = build_backend(Settings(data_dir=data), database=database)
    with backend.writing() as session:
        auth.ensure_project(session, "bench", "bench")
    with queue_writes(mode == "queue"):
        server0 = _backend_cpu(database) if pg else {}
        started, cpu0 = time.perf_counter(), time.process_time()
        for i in range(0, len(batch), 1000):
            store_events(backend, "bench", batch[i : i + 1000])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
        if pg:
            cpu += sum(v - server0.get(pid, 0.0) for pid, v in _backend_cpu(database).items())
    with backend.reading() as session:
        queued = session.execute(text("SELECT count(*) FROM reduce_queue")).scalar_one()
    assert queued == (20 * len(batch) if mode == "queue" else 0), (mode, queued)
    backend.close()
    if pg:
        _pg_admin(pg, f"DROP DATABASE IF EXISTS {PG_DB}")
    return len(batch) / elapsed, cpu * 1000 / len(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=None, help="a PostgreSQL server URL: also run there")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    batch = events(args.events)
    targets = ([] if args.no_sqlite else [None]) + ([args.pg] if args.pg else [])
    for pg in targets:
        runs: dict[str, list[float]] = {m: [] for m in MODES}
        cpus: dict[str, list[float]] = {m: [] for m in MODES}
        started = datetime.now(UTC)
        for r in range(args.repeat):
            for mode in MODES if r % 2 == 0 else tuple(reversed(MODES)):
                rate, cpu = run(mode, batch, pg)
                runs[mode].append(rate)
                cpus[mode].append(cpu)
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{'PostgreSQL' if pg else 'SQLite'}, {args.events} events x 21 tags, batches of 1,000, "
              f"{started:%H:%M}-{datetime.now(UTC):%H:%M} UTC, load average at the end {load}")  # fmt: skip
        for mode in MODES:
            paired = [x / y for x, y in zip(runs[mode], runs["none"], strict=True)]
            cpu_paired = [x / y for x, y in zip(cpus[mode], cpus["none"], strict=True)]
            print(
                f"  {mode:>5}: best {max(runs[mode]):.0f} events/s (runs {', '.join(f'{x:.0f}' for x in runs[mode])}); "
                f"vs none: best {max(runs[mode]) / max(runs['none']):.3f}, per round median "
                f"{statistics.median(paired):.3f} ({min(paired):.3f}-{max(paired):.3f}); "
                f"CPU {statistics.median(cpus[mode]):.2f} s per 1,000 events, vs none per round median "
                f"{statistics.median(cpu_paired):.3f} ({min(cpu_paired):.3f}-{max(cpu_paired):.3f})"
            )


if __name__ == "__main__":
    main()
