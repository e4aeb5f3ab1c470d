"""A reduce pass's cost follows the new data, not the history: 10,000 new traces over 1,000,000 vs 10,000 of history.

For each history size (``--history``, default ``1000000,10000``), a store migrated by
raymon's migrations (SQLite files under the temp dir, or with ``--pg URL`` PostgreSQL
databases ``{--pg-prefix}{history}`` on that server, made when absent):

- a reference profile ``bench@1.0.0`` of 20 input components (7 FLOAT, 7 INT, 6 CAT) is
  stored, and a manifest (applied through the service, so the engine's hooks read it)
  reduces it in 10-minute windows over the global slice plus a ``space`` on ``client``
  (10 clients: 10 slices), 11 slices in all;
- history: ``H`` traces with the 20 validation tags and a ``client`` tag each, one trace a
  second, bulk-loaded (SQLite ``executemany``, PostgreSQL ``COPY``; secondary indices and
  constraints dropped for the load and re-created from their own definitions), already
  claimed by an earlier pass (not in ``reduce_queue``; ``reduced_pass = 0`` as stores before
  migration 0020 marked it), with what the passes that reduced it
  left: a window row per (window, slice) in ``reduce_results`` and its dashboard summary
  in ``reduce_summaries``, discovery cells (``slice_cells``, per window, client and
  component), the explored vocabulary and the space's kept clients;
- new: 10,000 traces from the first window boundary after the history (17 windows), through
  the real ingest path (``services.ingest.store_events``, batches of 1,000 events), unclaimed;
- timed: ``engine.reduce_jobs.run_pass`` with the engine's own hooks (``on_results``: the
  issues; ``after_pass``: the alerts; ``on_claimed``: discovery cells) in one write
  transaction: claim 200,096 tags in batches of 20,000, read the traces' ``first_ts`` and
  ``client``, fold into 187 (slice, window) states, contrast each with the reference, write
  states, results, summaries, issues and cells. After each pass what it wrote is undone
  (untimed): its tags queued again, the new windows' rows, summaries, cells and issues deleted.

The passes of the histories are interleaved (``--repeat`` rounds, the order alternating), so
both see the same machine load. Per pass: wall time, this process's CPU time (on SQLite the
database's work is in it) and, on PostgreSQL, the server backend's CPU time (``/proc``),
and the time of each phase. Prints per history the median and the spread (min-max), the
ratio of the medians, and the median and spread of each round's own ratio (target < 1.2).

    python bench/engine_reduce.py [--history 1000000,10000] [--new 10000] [--repeat 5]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5440/postgres] [--pg-prefix reduce12_h] [--rebuild]
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_traces import ts_texts  # noqa: E402
from raymon import InputComponent, ModelProfile  # noqa: E402
from raymon.profiling.extractors.structured import ElementExtractor  # noqa: E402

WORK_DIR = Path(tempfile.gettempdir()) / "raymon-bench-reduce"
PROJECT = "bench"
GROUP = "bench@1.0.0"
BASE_TS = datetime(2026, 1, 1, tzinfo=UTC)
INTERVAL_S = 600
CLIENTS = [f"c{i}" for i in range(10)]
CLIENTS_ARR = np.array(CLIENTS)
KINDS = ["FLOAT"] * 7 + ["INT"] * 7 + ["CAT"] * 6
NAMES = [f"x{i:02d}" for i in range(20)]
CATS = np.array(["a", "b", "c", "d", "e"])
CHUNK = 20_000
SLICES = ["", *[f"client=={c}" for c in CLIENTS]]


def reference() -> ModelProfile:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(_columns(rng, 2_000))
    components = [
        InputComponent(name=n, extractor=ElementExtractor(element=n), dtype=k)
        for n, k in zip(NAMES, KINDS, strict=True)
    ]
    return ModelProfile("bench", "1.0.0", components=components).build(input=frame, silent=True)


def _columns(rng: np.random.Generator, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kind in zip(NAMES, KINDS, strict=True):
        if kind == "FLOAT":
            out[name] = rng.normal(10, 2, n)
        elif kind == "INT":
            out[name] = rng.integers(0, 20, n)
        else:
            out[name] = CATS[rng.integers(0, len(CATS), n)]
    return out


MANIFEST_YAML = f"""
project_id: {PROJECT}
actions:
  reduce:
    - name: "{GROUP}"
      reducer_type: profile_reducer
      reducer_interval_s: {INTERVAL_S}
slices:
  - space:
      - tag: client
    limit: 10
"""


def new_start(history: int) -> datetime:
    """The first new trace's time: the first window boundary at or after the history's end."""
    return BASE_TS + timedelta(seconds=-(-history // INTERVAL_S) * INTERVAL_S)


# --- the history ------------------------------------------------------------------------------------------


def _history_chunks(total: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """(traces, tags) rows of ``total`` history traces, ``CHUNK`` traces at a time; times as SQLite text."""
    rng = np.random.default_rng(1)
    for start in range(0, total, CHUNK):
        n = min(CHUNK, total - start)
        micros = np.arange(start, start + n, dtype=np.int64) * 1_000_000
        ts = ts_texts(micros, pg=False)
        pks = list(range(start + 1, start + n + 1))
        traces = [(pk, PROJECT, f"h{pk}", t, t) for pk, t in zip(pks, ts, strict=True)]
        cols = _columns(rng, n)
        clients = CLIENTS_ARR[rng.integers(0, len(CLIENTS), n)].tolist()
        per_name = []
        for name, kind in zip(NAMES, KINDS, strict=True):
            values = cols[name].tolist()
            if kind == "CAT":
                per_name.append((name, [None] * n, values))
            else:
                per_name.append((name, [float(v) for v in values], [None] * n))
        tags = []
        for i, pk in enumerate(pks):
            tags.append((PROJECT, pk, "client", "label", None, None, clients[i], ts[i], None))
            for name, nums, texts in per_name:
                tags.append((PROJECT, pk, name, "profile-input", GROUP, nums[i], texts[i], ts[i], 0))
        yield traces, tags


def _progress(done: int, total: int, started: float) -> None:
    print(f"\rhistory {done}/{total} traces, {time.perf_counter() - started:.0f} s", end="", file=sys.stderr)


def load_history_sqlite(path: Path, total: int) -> None:
    """``total`` traces of already reduced history straight into the tables (indices re-made after)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    indices = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('traces', 'tags')"
    ).fetchall()
    for name, _ in indices:
        conn.execute(f'DROP INDEX "{name}"')
    started, done = time.perf_counter(), 0
    for traces, tags in _history_chunks(total):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO traces (id, project_id, trace_id, first_ts, last_ts) VALUES (?, ?, ?, ?, ?)", traces
        )
        conn.executemany(
            "INSERT INTO tags (project_id, trace_pk, name, type, grp, value_num, value_text, ts, reduced_pass) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tags,
        )
        conn.execute("COMMIT")
        done += len(traces)
        _progress(done, total, started)
    print(file=sys.stderr)
    for name, sql in indices:
        t = time.perf_counter()
        conn.execute(sql)
        print(f"index {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    conn.close()


def _copy_text(rows: list[tuple[Any, ...]], ts_columns: tuple[int, ...]) -> bytes:
    """Rows as COPY text (tab-separated, ``\\N`` for NULL; times as timestamptz); no value here holds a tab."""
    out = io.StringIO()
    for row in rows:
        fields = ["\\N" if v is None else str(v) for v in row]
        for i in ts_columns:
            fields[i] += "+00"
        out.write("\t".join(fields))
        out.write("\n")
    return out.getvalue().encode()


def load_history_postgresql(url: str, total: int) -> None:
    """``total`` traces of already reduced history with ``COPY`` (indices, uniques and the foreign key re-made after)."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        constraints = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid IN ('tags'::regclass, 'traces'::regclass) AND contype IN ('u', 'f') "
            "ORDER BY contype DESC"  # uniques first when re-made (the key the foreign key needs is the pk)
        ).fetchall()
        for table, name, _ in constraints:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        indices = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('tags', 'traces') "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p')"
        ).fetchall()
        for name, _ in indices:
            conn.execute(f'DROP INDEX "{name}"')
        started, done = time.perf_counter(), 0
        for traces, tags in _history_chunks(total):
            with conn.transaction():
                with conn.cursor().copy(
                    "COPY traces (id, project_id, trace_id, first_ts, last_ts) FROM STDIN"
                ) as cp:
                    cp.write(_copy_text(traces, (3, 4)))
                with conn.cursor().copy(
                    "COPY tags (project_id, trace_pk, name, type, grp, value_num, value_text, ts, reduced_pass) "
                    "FROM STDIN"
                ) as cp:
                    cp.write(_copy_text(tags, (7,)))
            done += len(traces)
            _progress(done, total, started)
        print(file=sys.stderr)
        conn.execute("SELECT setval(pg_get_serial_sequence('traces', 'id'), (SELECT max(id) FROM traces))")
        for name, sql in indices:
            t = time.perf_counter()
            conn.execute(sql)
            print(f"index {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        for table, name, definition in constraints:
            t = time.perf_counter()
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            print(f"constraint {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        conn.execute("VACUUM (ANALYZE) traces")
        conn.execute("VACUUM (ANALYZE) tags")


def history_windows(backend: Any, reducer: Any, history: int) -> None:
    """What the passes that reduced the history left: windows, summaries, cells, vocabulary, kept clients."""
    from raymon.profiling.contrast import Thresholds
    from raymon.server.engine.profile_reducer import window_summary
    from raymon.server.engine.slice_cells import CellAdd
    from raymon.server.store import reduce as reduce_store
    from raymon.server.store import slices as slice_store

    rng = np.random.default_rng(5)
    state = reducer.empty()
    acc_state = pd.DataFrame(_columns(rng, 600))
    from raymon.server.engine.profile_reducer import Accumulator

    acc = Accumulator()
    for name in NAMES:
        for v in acc_state[name].tolist():
            reducer.add_tag(acc, name, "profile-input", v if isinstance(v, str) else float(v))
    state.fold(acc)
    rows = reducer.contrast_rows(state, Thresholds.from_config(None), backend.plugins.classes)
    summary = window_summary(rows, reducer.scores(state))
    n_windows = -(-history // INTERVAL_S)
    started = time.perf_counter()
    for w0 in range(0, n_windows, 200):
        with backend.writing() as session:
            writes = []
            adds: dict[Any, CellAdd] = {}
            for w in range(w0, min(w0 + 200, n_windows)):
                start = BASE_TS + timedelta(seconds=w * INTERVAL_S)
                end = start + timedelta(seconds=INTERVAL_S)
                for s in SLICES:  # the states are not read again by a later pass: kept small
                    writes.append(
                        reduce_store.WindowWrite(None, s, start, end, {}, {"rows": []}, 0, 0, summary)
                    )
                for c in CLIENTS:
                    cell = f'[["client","{c}"]]'
                    for name in NAMES:
                        adds[(start, cell, name)] = CellAdd(60, 60, 600.0, 6000.0, 14.0, 0)
            reduce_store.save_windows(session, PROJECT, GROUP, writes, 1, BASE_TS)
            slice_store.add_cells(session, PROJECT, GROUP, adds)
        print(f"\rhistory windows {min(w0 + 200, n_windows)}/{n_windows}, {time.perf_counter() - started:.0f} s",
              end="", file=sys.stderr)  # fmt: skip
    print(file=sys.stderr)
    with backend.writing() as session:
        slice_store.save_vocab(
            session, PROJECT, GROUP, {"client": {"values": CLIENTS, "overflow": False}}, BASE_TS
        )


def new_traffic(backend: Any, profile: ModelProfile, history: int, n: int) -> None:
    from raymon.server.services.ingest import store_events
    from raymon.wire import tags_event

    rng = np.random.default_rng(2)
    frame = pd.DataFrame(_columns(rng, n))
    rows = profile.validate_input(frame, batch=True)
    start = new_start(history)
    events = []
    for i, tags in enumerate(rows):
        event = tags_event(
            PROJECT,
            f"n{i}",
            [*tags, {"name": "client", "value": CLIENTS[i % 10], "type": "label", "group": None}],
        )
        event["ts"] = (start + timedelta(seconds=i)).isoformat(timespec="microseconds")
        events.append(event)
    for i in range(0, n, 1000):
        store_events(backend, PROJECT, events[i : i + 1000])


# --- the stores -------------------------------------------------------------------------------------------


def _pg_database_url(base: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(base).set(database=name).render_as_string(hide_password=False)


def _pg_exists(base: str, name: str, create: bool) -> bool:
    import psycopg

    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
        if create and found:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
        return found


def open_store(history: int, n_new: int, pg: str | None, prefix: str, rebuild: bool) -> Any:
    """The backend of one history's store, built first if it is missing or incomplete."""
    from sqlalchemy import text

    from raymon.server.backend import build_backend
    from raymon.server.settings import Settings
    from raymon.server.store.db import Database, sqlite_url

    data = WORK_DIR / (f"pg-{prefix}{history}" if pg else f"history-{history}")
    if pg:
        url = _pg_database_url(pg, f"{prefix}{history}")
        ready = not rebuild and _pg_exists(pg, f"{prefix}{history}", False)
    else:
        url = sqlite_url(data / "raymon.sqlite3")
        ready = not rebuild and (data / "raymon.sqlite3").exists()
    if ready:
        database = Database(url)
        try:
            with database.connect() as conn:
                n = conn.execute(text("SELECT count(*) FROM traces")).scalar_one()
                passes = conn.execute(text("SELECT max(last_pass) FROM reducer_states")).scalar_one()
            ready = n == history + n_new and passes is not None
        except Exception:  # noqa: BLE001  (a store a crashed build left: made again)
            ready = False
        if ready:
            data.mkdir(parents=True, exist_ok=True)
            backend = build_backend(Settings(data_dir=data), database=database)
            undo(backend, history, None)
            return backend
        database.dispose()
    return build_store(history, n_new, pg, prefix, url, data)


def build_store(history: int, n_new: int, pg: str | None, prefix: str, url: str, data: Path) -> Any:
    from raymon.server.backend import build_backend
    from raymon.server.engine.reduce_jobs import load_reducer
    from raymon.server.services import auth
    from raymon.server.services.manifests import apply_manifest
    from raymon.server.services.profiles import create_profile
    from raymon.server.settings import Settings
    from raymon.server.store import reduce as reduce_store
    from raymon.server.store.db import Database

    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    if pg:
        _pg_exists(pg, f"{prefix}{history}", True)
    database = Database(url)
    backend = build_backend(Settings(data_dir=data), database=database)
    database.migrate()
    with backend.writing() as session:
        auth.ensure_project(session, PROJECT, "bench")
    profile = reference()
    create_profile(backend, PROJECT, profile.to_jcr())
    apply_manifest(backend, PROJECT, MANIFEST_YAML)
    t = time.perf_counter()
    if pg:
        load_history_postgresql(url, history)
    else:
        load_history_sqlite(data / "raymon.sqlite3", history)
    print(f"history of {history} traces loaded in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    with backend.reading() as session:
        reducer = load_reducer(backend, session, PROJECT, GROUP)
    history_windows(backend, reducer, history)
    kept = {"client": {"kept": [[f"client=={c}", history // 10] for c in CLIENTS]}}
    with backend.writing() as session:
        reduce_store.begin_pass(session, PROJECT, GROUP, BASE_TS)  # pass 1: the history's
        reduce_store.save_spaces(session, PROJECT, GROUP, kept)
    new_traffic(backend, profile, history, n_new)
    if pg:
        with database.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    return backend


def undo(backend: Any, history: int, pass_no: int | None) -> None:
    """Undo what a pass wrote (``pass_no``: which; ``None``: any after the history's): claims, new windows, summaries,
    cells, issues. Claims are undone by queueing the new traffic's grouped tags again (whichever pass took them)."""
    from sqlalchemy import text

    start = new_start(history)
    if backend.database.is_sqlite:  # stored as SQLAlchemy's text
        start_param: Any = start.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    else:
        start_param = start
    # the new traffic's grouped tags queued again, as ingest left them
    with backend.database.connect() as conn:
        conn.execute(text("DELETE FROM reduce_queue"))
        conn.execute(
            text(
                "INSERT INTO reduce_queue (project_id, grp, tag_id) SELECT t.project_id, t.grp, t.id FROM tags t "
                "JOIN traces r ON r.id = t.trace_pk WHERE r.project_id = :p AND r.first_ts >= :s "
                "AND t.grp IS NOT NULL"
            ),
            {"p": PROJECT, "s": start_param},
        )
        for table in ("reduce_summaries", "reduce_results", "slice_cells"):
            conn.execute(text(f"DELETE FROM {table} WHERE window_start >= :s"), {"s": start_param})
        conn.execute(text("DELETE FROM issue_history"))
        conn.execute(text("DELETE FROM issues"))
    if not backend.database.is_sqlite:
        # What the undo deleted must not linger as dead row versions at the very keys the next pass
        # writes again (a real store never deletes and re-writes them): without this, the cells'
        # upserts at 1M history (333,400 cells: autovacuum waits for 20 % dead) walked the dead
        # entries of every earlier pass, a cost of the bench's undo, not of the history.
        engine = backend.database.engine.execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for table in ("reduce_queue", "reduce_summaries", "reduce_results", "slice_cells", "issues"):
                conn.exec_driver_sql(f"VACUUM {table}")


# --- the timed pass ---------------------------------------------------------------------------------------


class Phases:
    """Wall time per phase of a pass: the store's and the hooks' functions wrapped while the bench runs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.server_cpu: Callable[[], float] = lambda: 0.0  # the pass's PostgreSQL backend's CPU clock

    def wrap(self, owner: Any, attr: str, label: str) -> None:
        inner = getattr(owner, attr)

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t, s = time.perf_counter(), self.server_cpu()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t
                self.seconds[f"{label}_srv"] += self.server_cpu() - s

        setattr(owner, attr, timed)

    def hook(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        holder = type("Holder", (), {"fn": staticmethod(fn)})
        self.wrap(holder, "fn", label)
        return holder.fn  # type: ignore[no-any-return]


PHASES = Phases()


def _instrument() -> None:
    from raymon.server.engine.profile_reducer import ProfileReducer
    from raymon.server.store import reduce as reduce_store

    for attr, label in (
        ("claim_tags", "claim"),
        ("trace_contexts", "contexts"),
        ("lock_windows", "windows_read"),
        ("save_windows", "windows_write"),
    ):
        PHASES.wrap(reduce_store, attr, label)
    PHASES.wrap(ProfileReducer, "contrast_rows", "contrast")


def _server_cpu(session: Any) -> Callable[[], float]:
    """The PostgreSQL backend's CPU seconds so far (user + system, from /proc), or a zero clock."""
    if session.get_bind().dialect.name != "postgresql":
        return lambda: 0.0
    pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick

    return read


def timed_pass(backend: Any, history: int, hooks: bool) -> dict[str, float]:
    from raymon.server.engine import runtime
    from raymon.server.engine.reduce_jobs import load_reducer, no_pass_hook, no_results_hook, run_pass
    from raymon.server.services import manifests as manifest_service
    from raymon.server.services import slices as slice_service

    manifest = manifest_service.current(backend, PROJECT)
    assert manifest is not None
    action = manifest.actions.reduce[0]
    with backend.reading() as session:
        reducer = load_reducer(backend, session, PROJECT, GROUP)
    on_results = (
        PHASES.hook(runtime.window_results_to_issues(backend), "issues") if hooks else no_results_hook
    )
    after_pass = PHASES.hook(runtime.pass_events_to_alerts(backend), "alerts") if hooks else no_pass_hook
    on_claimed = PHASES.hook(slice_service.cells_hook, "cells") if hooks else None
    PHASES.seconds.clear()
    with backend.writing() as session:
        server_cpu = PHASES.server_cpu = _server_cpu(session)
        s0, c0, t0 = server_cpu(), time.process_time(), time.perf_counter()
        report = run_pass(
            session, backend, PROJECT, manifest, action, reducer, BASE_TS,
            on_results=on_results, after_pass=after_pass, on_claimed=on_claimed,
        )  # fmt: skip
        session.flush()
        t1 = time.perf_counter()
    t2 = time.perf_counter()  # the commit included
    out = {
        "wall": t2 - t0,
        "cpu": time.process_time() - c0,
        "server_cpu": server_cpu() - s0,
        "commit": t2 - t1,
        **PHASES.seconds,
    }
    out["fold"] = out["wall"] - sum(out.get(k, 0.0) for k in ("claim", "contexts", "windows_read", "windows_write",
                                                             "contrast", "issues", "alerts", "cells", "commit"))  # fmt: skip
    print(
        f"history {history}: pass {report.pass_no}: {report.n_tags} tags of {report.n_traces} traces into "
        f"{len(report.windows)} windows in {out['wall']:.2f} s (cpu {out['cpu']:.2f} s, "
        f"server cpu {out['server_cpu']:.2f} s; load {os.getloadavg()[0]:.1f})",
        file=sys.stderr,
    )
    undo(backend, history, report.pass_no)
    return out


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", default="1000000,10000")
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg", default=None, help="a PostgreSQL server URL: the stores are databases there")
    parser.add_argument(
        "--pg-prefix", default="reduce12_h", help="the stores' database names: PREFIX{history}"
    )
    parser.add_argument("--rebuild", action="store_true", help="make the stores again even if they exist")
    parser.add_argument("--no-hooks", action="store_true", help="the pass without the issues and cells hooks")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.history.split(",")]
    _instrument()
    backends = {h: open_store(h, args.new, args.pg, args.pg_prefix, args.rebuild) for h in sizes}
    started = datetime.now(UTC)
    runs: dict[int, list[dict[str, float]]] = {h: [] for h in sizes}
    for r in range(args.repeat):
        for h in sizes if r % 2 == 0 else list(reversed(sizes)):
            runs[h].append(timed_pass(backends[h], h, not args.no_hooks))
    for backend in backends.values():
        backend.close()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    db = "PostgreSQL" if args.pg else "SQLite"
    print(f"{db}, {args.repeat} interleaved rounds, {started:%Y-%m-%d %H:%M}-{datetime.now(UTC):%H:%M} UTC, "
          f"load average at the end {load}")  # fmt: skip
    keys = ["wall", "cpu", "server_cpu", "claim", "contexts", "fold", "windows_read", "contrast",
            "windows_write", "issues", "cells", "commit"]  # fmt: skip
    if args.pg:  # where the server's CPU went, per phase
        keys += ["claim_srv", "contexts_srv", "windows_write_srv", "issues_srv", "cells_srv"]
    print(f"{'history':>9} " + " ".join(f"{k:>20}" for k in keys))
    for h in sizes:
        print(f"{h:>9} " + " ".join(f"{_spread([run.get(k, 0.0) for run in runs[h]]):>20}" for k in keys))
    if len(sizes) >= 2:
        big, small = max(sizes), min(sizes)
        for k in ("wall", "cpu", "server_cpu"):
            a = [run[k] for run in runs[big]]
            b = [run[k] for run in runs[small]]
            if not any(b):
                continue
            paired = [x / y for x, y in zip(a, b, strict=True) if y > 0]
            print(
                f"ratio {big} / {small} history, {k}: medians {statistics.median(a) / statistics.median(b):.2f}; "
                f"per round {_spread(paired)} (target < 1.2)"
            )


if __name__ == "__main__":
    main()
