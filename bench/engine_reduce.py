"""A reduce pass's cost follows the new data, not the history: 10,000 new traces over 1,000,000 vs 10,000 of history.

For each history size (``--history``, default ``1000000,10000``), on a fresh SQLite store
migrated by raymon's migrations:

- a reference profile ``bench@1.0.0`` of 20 input components (7 FLOAT, 7 INT, 6 CAT) is
  stored, and a manifest reduces it in 10-minute windows over the global slice plus a
  ``space`` on ``client`` (10 clients: 10 slices), 11 slices in all;
- history: ``H`` traces with the 20 validation tags and a ``client`` tag each, one trace a
  second, bulk-inserted with the driver (``executemany``, secondary indices dropped for the
  load and re-created from their own definitions, as ``gen_traces.py`` does), already
  claimed by an earlier pass (``reduced_pass = 0``), with the history's window rows in
  ``reduce_results`` (one per window and slice) and the reducer's kept clients;
- new: 10,000 traces after the history, through the real ingest path
  (``services.ingest.store_events``, batches of 1,000 events), unclaimed;
- timed: ``engine.reduce_jobs.run_pass`` in one write transaction (claim in batches of
  20,000 tags, read the traces' ``first_ts`` and ``client``, assign slices and windows,
  fold 210,000 tags into the touched (slice, window) states, contrast each with the
  reference, write states and results). Between repeats the pass is undone (its tags
  unclaimed, its windows deleted); the best of ``--repeat`` runs counts.

Prints each history's pass time and the ratio 1M / 10k (target < 1.2). Figures in bench/README.md.

    python bench/engine_reduce.py [--history 1000000,10000] [--new 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
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
KINDS = ["FLOAT"] * 7 + ["INT"] * 7 + ["CAT"] * 6
NAMES = [f"x{i:02d}" for i in range(20)]
CATS = np.array(["a", "b", "c", "d", "e"])
CHUNK = 20_000


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


def manifest() -> Any:
    from raymon.server.engine.manifest import Manifest

    return Manifest.model_validate(
        {
            "project_id": PROJECT,
            "actions": {
                "reduce": [
                    {"name": GROUP, "reducer_type": "profile_reducer", "reducer_interval_s": INTERVAL_S}
                ]
            },
            "slices": [{"space": [{"tag": "client"}], "limit": 10}],
        }
    )


def load_history(path: Path, total: int) -> None:
    """``total`` traces of already reduced history, with their window rows, straight into the store's tables."""
    rng = np.random.default_rng(1)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    indices = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('traces', 'tags')"
    ).fetchall()
    for name, _ in indices:
        conn.execute(f'DROP INDEX "{name}"')
    started = time.perf_counter()
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
        print(
            f"\rhistory {start + n}/{total} traces, {time.perf_counter() - started:.0f} s",
            end="",
            file=sys.stderr,
        )
    print(file=sys.stderr)
    for name, sql in indices:
        t = time.perf_counter()
        conn.execute(sql)
        print(f"index {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    # the history's windows, as the passes that reduced it left them (states not read again: kept small)
    n_windows = -(-total // INTERVAL_S)
    rows = []
    for w in range(n_windows):
        start_txt = ts_texts(np.array([w * INTERVAL_S * 1_000_000], dtype=np.int64), pg=False)[0]
        end_txt = ts_texts(np.array([(w + 1) * INTERVAL_S * 1_000_000], dtype=np.int64), pg=False)[0]
        for s in ["", *[f"client=={c}" for c in CLIENTS]]:
            rows.append((PROJECT, GROUP, s, start_txt, end_txt, "{}", '{"rows": []}', start_txt, 0, 0, 0))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO reduce_results (project_id, reducer, slice, window_start, window_end, state, result, "
        "created_at, n_tags, n_alerts, last_pass) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    conn.close()


CLIENTS_ARR = np.array(CLIENTS)


def new_traffic(backend: Any, profile: ModelProfile, history: int, n: int) -> None:
    from raymon.server.services.ingest import store_events
    from raymon.wire import tags_event

    rng = np.random.default_rng(2)
    frame = pd.DataFrame(_columns(rng, n))
    rows = profile.validate_input(frame, batch=True)
    start = BASE_TS + timedelta(seconds=history)
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


def one_history(history: int, n_new: int, repeat: int, reuse: bool = False) -> float:
    from raymon.server.backend import build_backend
    from raymon.server.services import auth
    from raymon.server.services.profiles import create_profile
    from raymon.server.settings import Settings
    from raymon.server.store import reduce as reduce_store
    from raymon.server.store.db import Database, sqlite_url

    data = WORK_DIR / f"history-{history}"
    path = data / "raymon.sqlite3"
    if reuse and path.exists():  # a store a previous run left: undo its last pass, add indices it lacks
        return _rerun(data, path, repeat)
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    database = Database(sqlite_url(path))
    backend = build_backend(Settings(data_dir=data), database=database)
    database.migrate()
    with backend.writing() as session:
        auth.ensure_project(session, PROJECT, "bench")
    profile = reference()
    create_profile(backend, PROJECT, profile.to_jcr())
    t = time.perf_counter()
    load_history(path, history)
    print(f"history of {history} traces loaded in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    kept = {"client": {"kept": [[f"client=={c}", history // 10] for c in CLIENTS]}}
    with backend.writing() as session:
        reduce_store.begin_pass(session, PROJECT, GROUP, BASE_TS)  # pass 1: the history's
        reduce_store.save_spaces(session, PROJECT, GROUP, kept)
    new_traffic(backend, profile, history, n_new)
    return _timed_passes(backend, history, repeat)


def _rerun(data: Path, path: Path, repeat: int) -> float:
    from sqlalchemy import text

    from raymon.server.backend import build_backend
    from raymon.server.settings import Settings
    from raymon.server.store.db import Database, sqlite_url
    from raymon.server.store.models import Base

    database = Database(sqlite_url(path))
    for index in Base.metadata.tables["reduce_results"].indexes | Base.metadata.tables["tags"].indexes:
        index.create(database.engine, checkfirst=True)
    with database.connect() as conn:
        last = conn.execute(text("SELECT max(reduced_pass) FROM tags")).scalar_one()
        conn.execute(text("UPDATE tags SET reduced_pass = NULL WHERE reduced_pass = :p"), {"p": last})
        conn.execute(text("DELETE FROM reduce_results WHERE last_pass = :p"), {"p": last})
    backend = build_backend(Settings(data_dir=data), database=database)
    return _timed_passes(backend, -1, repeat)


def _timed_passes(backend: Any, history: int, repeat: int) -> float:
    from sqlalchemy import text

    from raymon.server.engine.reduce_jobs import load_reducer, run_pass

    m = manifest()
    action = m.actions.reduce[0]
    database = backend.database
    best = float("inf")
    for attempt in range(repeat):
        with backend.reading() as session:
            reducer = load_reducer(backend, session, PROJECT, GROUP)
        t = time.perf_counter()
        with backend.writing() as session:
            report = run_pass(session, backend, PROJECT, m, action, reducer, BASE_TS)
        elapsed = time.perf_counter() - t
        best = min(best, elapsed)
        print(
            f"history {history}: pass {report.pass_no}: {report.n_tags} tags of {report.n_traces} traces into "
            f"{len(report.windows)} windows in {elapsed:.2f} s",
            file=sys.stderr,
        )
        if attempt < repeat - 1:  # undo the pass for the next run
            with database.connect() as conn:
                conn.execute(
                    text("UPDATE tags SET reduced_pass = NULL WHERE reduced_pass = :p"), {"p": report.pass_no}
                )
                conn.execute(text("DELETE FROM reduce_results WHERE last_pass = :p"), {"p": report.pass_no})
    backend.close()
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", default="1000000,10000")
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="rerun on the stores a previous run left (its last pass undone)"
    )
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.history.split(",")]
    if args.reuse:  # the stores exist: one pass of each in turns, so both see the same machine load
        timings = {h: float("inf") for h in sizes}
        for _ in range(args.repeat):
            for h in sizes:
                timings[h] = min(timings[h], one_history(h, args.new, 1, True))
    else:
        timings = {h: one_history(h, args.new, args.repeat) for h in sizes}
    print(f"{'history traces':>15} {'pass s':>8} {'new tags/s':>11}")
    for h, s in timings.items():
        print(f"{h:>15} {s:>8.2f} {args.new * 21 / s:>11.0f}")
    if len(sizes) >= 2:
        big, small = max(sizes), min(sizes)
        print(f"ratio {big} / {small} history: {timings[big] / timings[small]:.2f} (target < 1.2)")


if __name__ == "__main__":
    main()
