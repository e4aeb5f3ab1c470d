"""Make a large trace data set for the query benchmarks: N traces with 10 tags and 1-3 texts each, in bulk.

    python bench/gen_traces.py --traces 1000000 --data-dir /tmp/raymon-bench/sqlite-1000000
    python bench/gen_traces.py --traces 1000000 --postgres-url postgresql+psycopg://postgres@127.0.0.1:5440/postgres \\
        --database raymon_bench_1000000

The store is migrated with raymon's own migrations first, so the tables and
indices are exactly the server's; then the rows go in with the database
driver, not the ingest API (1M traces x 10 tags = 10M tag rows would take an
hour through HTTP): SQLite ``executemany`` in large transactions, PostgreSQL
``COPY``. The secondary indices of ``traces`` and ``tags`` are dropped for the
load and re-created from their own saved definitions afterwards (constraints
stay). PostgreSQL's tables are then analysed (``VACUUM ANALYZE``), as its
autovacuum does to a live database; SQLite's are not (``--sqlite-analyze`` to
do it): the server never runs ``ANALYZE``, so a live SQLite store has no
planner statistics, and SQLite's plans differ with and without them. It writes
traces, tags and texts (what the trace list reads) into project ``bench`` and
refuses a store that already holds traces of that project. The texts are kept
by the store's own index of texts (migration 0021: SQLite's triggers fill it
row by row during the load; PostgreSQL's GIN index is dropped and re-made).

The tags (what the filters of ``server_trace_list.py`` select; values uniform
and independent, so the selectivities multiply):

    client  c0..c9     (text, 10%)      app     v0..v9        (text, 10%)
    model   m0..m4     (text, 20%)      shard   s0..s999      (text, 0.1%)
    region  5 regions  (text, 20%)      host    h0..h49       (text, 2%)
    status  ok 95% / error 5% (text)    user    u0..u99999    (text)
    latency_ms  1..500 (number)         score   0..1          (number)

The texts (what ``server_search.py`` searches): 1 to 3 log lines per trace
(2 on average; level info 80%, warning 15%, error 5%), each six words drawn
from a vocabulary of 320 (``VOCABULARY``: 80 log words then 240 made-up ones)
with Zipf weights (rank r has weight 1/r^1.05: ``request`` is in most
traces, a word of rank 300 in ~0.5%), then ``in <n> ms``; one line in
~3,300 also holds one of ``RARE_WORDS`` (each in ~0.02% of the traces).

Trace ``first_ts`` grows with the trace's number over 30 days (a few seconds
of jitter), as traces arrive in time order. It never writes outside the store
it was given.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import BENCH_PROJECT_ID, postgres_from, sqlite_url_for  # noqa: E402
from raymon.server.store import tag_terms  # noqa: E402

BASE_TS = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=30)
CHUNK_TRACES = 50_000
TAG_NAMES = (
    "app",
    "client",
    "host",
    "latency_ms",
    "model",
    "region",
    "score",
    "shard",
    "status",
    "user",
)  # sorted: rows go in (trace_pk, name) order, the order of the unique index
REGIONS = np.array(["eu-west", "eu-north", "us-east", "us-west", "ap-south"])
LOG_WORDS = (
    "request user cache database query timeout retry connection session token service worker "
    "handler upstream response payload schema model predict batch feature vector score latency "
    "queue message event stream shard replica leader commit rollback index table column record "
    "field value config deploy version release build image container pod node cluster region "
    "zone disk memory thread pool socket client server proxy gateway route endpoint header cookie "
    "auth login logout permission denied granted expired refresh invalid missing found created "
    "updated deleted started stopped failed succeeded"
).split()
_SYLLABLES = ("ka", "lo", "ri", "mu", "te", "sa", "no", "pi", "da", "ve", "zo", "fu", "be", "ni", "go", "ru")
VOCABULARY = np.array(
    LOG_WORDS
    + [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in ("n", "l", "r")][: 320 - len(LOG_WORDS)]
)
_WEIGHTS = 1.0 / np.arange(1, len(VOCABULARY) + 1) ** 1.05
WORD_P = _WEIGHTS / _WEIGHTS.sum()
WORDS_PER_LINE = 6
RARE_WORDS = np.array(["segfault", "deadlock", "oomkilled"])  # no vocabulary word contains one
RARE_LINE_SHARE = 3e-4
LEVELS = np.array(["info", "warning", "error"])


def tag_columns(rng: np.random.Generator, n: int) -> dict[str, tuple[str, Any, Any]]:
    """Per tag name: (type, numeric values or None, text values or None), ``n`` traces' worth."""

    def labels(prefix: str, count: int) -> np.ndarray:
        return np.char.add(prefix, rng.integers(0, count, n).astype(str))

    latency = rng.integers(1, 501, n).astype(float)
    return {
        "app": ("label", None, labels("v", 10)),
        "client": ("label", None, labels("c", 10)),
        "host": ("label", None, labels("h", 50)),
        "latency_ms": ("metric", latency, None),
        "model": ("label", None, labels("m", 5)),
        "region": ("label", None, REGIONS[rng.integers(0, len(REGIONS), n)]),
        "score": ("metric", np.round(rng.random(n), 6), None),
        "shard": ("label", None, labels("s", 1000)),
        "status": ("label", None, np.where(rng.random(n) < 0.95, "ok", "error")),
        "user": ("label", None, labels("u", 100_000)),
    }


def text_rows(
    rng: np.random.Generator, pks: range, first_txt: list[str], project: str
) -> list[tuple[Any, ...]]:
    """1-3 log lines per trace: (project_id, trace_pk, ts, level, message), at the trace's first timestamp."""
    per_trace = rng.integers(1, 4, len(pks))
    owner = np.repeat(np.arange(len(pks)), per_trace)
    m = len(owner)
    words = VOCABULARY[rng.choice(len(VOCABULARY), size=(m, WORDS_PER_LINE), p=WORD_P)]
    rare = rng.random(m) < RARE_LINE_SHARE
    words[rare, 2] = RARE_WORDS[rng.integers(0, len(RARE_WORDS), int(rare.sum()))]
    message = words[:, 0]
    for i in range(1, WORDS_PER_LINE):
        message = np.char.add(np.char.add(message, " "), words[:, i])
    message = np.char.add(np.char.add(message, " in "), rng.integers(1, 2000, m).astype(str))
    message = np.char.add(message, " ms")
    levels = LEVELS[np.searchsorted([0.8, 0.95], rng.random(m), side="right")]
    first = pks.start
    return [
        (project, first + int(i), first_txt[i], level, text)
        for i, level, text in zip(owner.tolist(), levels.tolist(), message.tolist(), strict=True)
    ]


def trace_times(rng: np.random.Generator, start: int, n: int, total: int) -> tuple[np.ndarray, np.ndarray]:
    """first_ts and last_ts as microseconds since ``BASE_TS`` for traces ``start .. start+n``."""
    step = SPAN / timedelta(microseconds=1) / max(total, 1)
    first = ((np.arange(start, start + n) * step) + rng.integers(0, 3_000_000, n)).astype(np.int64)
    last = first + rng.integers(1_000, 2_000_000, n)
    return first, last


def ts_texts(micros: np.ndarray, pg: bool) -> list[str]:
    """Timestamps as the store writes them: SQLAlchemy's SQLite text format, or timestamptz input."""
    base = np.datetime64(BASE_TS.replace(tzinfo=None), "us")
    text = np.datetime_as_string(base + micros.astype("timedelta64[us]"), unit="us")
    out = np.char.replace(text, "T", " ")
    if pg:
        out = np.char.add(out, "+00")
    return list(out)


def _progress(total: int, label: str) -> Callable[[int], None]:
    try:
        from tqdm import tqdm
    except ImportError:
        start = time.perf_counter()

        def plain(done: int) -> None:
            print(
                f"\r{label}: {done}/{total} traces, {time.perf_counter() - start:.0f} s",
                end="",
                file=sys.stderr,
            )

        return plain
    bar = tqdm(total=total, desc=label, unit="traces", unit_scale=True, file=sys.stderr)

    def update(done: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


Rows = list[tuple[Any, ...]]


def chunks(total: int, first_pk: int, seed: int, pg: bool) -> Iterator[tuple[Rows, Rows, Rows, int]]:
    """(trace rows, tag rows, text rows, traces done) per chunk; trace pks from ``first_pk``, ids random hex."""
    rng = np.random.default_rng(seed)
    project = BENCH_PROJECT_ID
    for start in range(0, total, CHUNK_TRACES):
        n = min(CHUNK_TRACES, total - start)
        pks = range(first_pk + start, first_pk + start + n)
        raw = rng.bytes(16 * n).hex()
        trace_ids = [raw[i * 32 : i * 32 + 32] for i in range(n)]
        first, last = trace_times(rng, start, n, total)
        first_txt, last_txt = ts_texts(first, pg), ts_texts(last, pg)
        traces = list(zip(pks, [project] * n, trace_ids, first_txt, last_txt, strict=True))
        columns = tag_columns(rng, n)
        per_name = []
        for name in TAG_NAMES:
            type_, nums, texts = columns[name]
            num_list = nums.tolist() if nums is not None else [None] * n
            text_list = texts.tolist() if texts is not None else [None] * n
            per_name.append((name, type_, num_list, text_list))
        tags = [
            (project, pk, name, type_, None, nums[i], texts[i], first_txt[i])
            for i, pk in enumerate(pks)
            for name, type_, nums, texts in per_name
        ]
        yield traces, tags, text_rows(rng, pks, first_txt, project), start + n


TRACE_COLUMNS = "id, project_id, trace_id, first_ts, last_ts"
TAG_COLUMNS = "project_id, trace_pk, name, type, grp, value_num, value_text, ts"
TEXT_COLUMNS = "project_id, trace_pk, ts, level, message"
INDEXED_TABLES = ("traces", "tags", "texts", "trace_terms")


def prepare_store(database_url: str) -> None:
    """Migrate the store (raymon's migrations) and make sure project ``bench`` exists."""
    from raymon.server.services import auth
    from raymon.server.store.db import Database

    database = Database(database_url, pool_size=1)
    try:
        database.migrate()
        with database.write_session() as session:
            auth.ensure_project(session, BENCH_PROJECT_ID, "Benchmark data")
    finally:
        database.dispose()


def load_sqlite(path: Path, total: int, seed: int, analyze: bool = False) -> None:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        _refuse_existing(
            conn.execute("SELECT count(*) FROM traces WHERE project_id = ?", (BENCH_PROJECT_ID,)).fetchone()[
                0
            ]
        )
        first_pk = (conn.execute("SELECT max(id) FROM traces").fetchone()[0] or 0) + 1
        indices = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN {INDEXED_TABLES!r}"
        ).fetchall()
        for name, _ in indices:
            conn.execute(f'DROP INDEX "{name}"')
        progress = _progress(total, "traces")
        for traces, tags, texts, done in chunks(total, first_pk, seed, pg=False):
            conn.execute("BEGIN")
            conn.executemany(f"INSERT INTO traces ({TRACE_COLUMNS}) VALUES (?, ?, ?, ?, ?)", traces)
            conn.executemany(f"INSERT INTO tags ({TAG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", tags)
            conn.executemany(f"INSERT INTO texts ({TEXT_COLUMNS}) VALUES (?, ?, ?, ?, ?)", texts)
            conn.execute("COMMIT")
            progress(done)
        for name, sql in indices:
            started = time.perf_counter()
            conn.execute(sql)
            print(f"index {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        if analyze:
            started = time.perf_counter()
            conn.execute("ANALYZE")
            print(f"ANALYZE: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    finally:
        conn.close()


def load_postgres(conn: Any, total: int, seed: int) -> None:
    def fill(first_pk: int) -> None:
        progress = _progress(total, "traces")
        for traces, tags, texts, done in chunks(total, first_pk, seed, pg=True):
            with conn.transaction():
                with conn.cursor().copy(f"COPY traces ({TRACE_COLUMNS}) FROM STDIN") as copy:
                    copy.write(_copy_text(traces))
                with conn.cursor().copy(f"COPY tags ({TAG_COLUMNS}) FROM STDIN") as copy:
                    copy.write(_copy_text(tags))
                with conn.cursor().copy(f"COPY texts ({TEXT_COLUMNS}) FROM STDIN") as copy:
                    copy.write(_copy_text(texts))
            progress(done)

    bulk_load_postgres(conn, fill)


def bulk_load_postgres(conn: Any, fill: Callable[[int], None]) -> None:
    """The frame of a PostgreSQL load: refuse a filled store, drop the secondary indices, run
    ``fill(first_pk)`` without triggers (foreign keys, migration 0022's terms), then the traces'
    terms, the sequence, the indices and ``VACUUM ANALYZE``."""
    _refuse_existing(
        conn.execute("SELECT count(*) FROM traces WHERE project_id = %s", (BENCH_PROJECT_ID,)).fetchone()[0]
    )
    first_pk = (conn.execute("SELECT max(id) FROM traces").fetchone()[0] or 0) + 1
    indices = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        (list(INDEXED_TABLES),),
    ).fetchall()
    for name, _ in indices:
        conn.execute(f'DROP INDEX "{name}"')
    # The rows are consistent by construction: skip the per-row foreign-key triggers (superuser only).
    try:
        conn.execute("SET session_replication_role = replica")
    except Exception as exc:  # noqa: BLE001 - not a superuser: load with the checks on
        print(f"foreign-key checks stay on ({exc})", file=sys.stderr)
    fill(first_pk)
    conn.execute("SET session_replication_role = DEFAULT")
    if conn.execute("SELECT to_regclass('trace_terms')").fetchone()[0] is not None:
        # Migration 0022's triggers do not fire in replica mode: the traces' terms in one pass.
        started = time.perf_counter()
        for statement in tag_terms.FILL_STATEMENTS:
            conn.execute(statement)
        print(f"trace terms: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    conn.execute("SELECT setval(pg_get_serial_sequence('traces', 'id'), (SELECT max(id) FROM traces))")
    for name, sql in indices:
        started = time.perf_counter()
        conn.execute(sql)
        print(f"index {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    conn.execute("VACUUM ANALYZE traces")
    conn.execute("VACUUM ANALYZE tags")
    conn.execute("VACUUM ANALYZE texts")
    if conn.execute("SELECT to_regclass('trace_terms')").fetchone()[0] is not None:
        conn.execute("VACUUM ANALYZE trace_terms")
    print(f"VACUUM ANALYZE: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def _copy_text(rows: list[tuple[Any, ...]]) -> bytes:
    """Rows in COPY's text format (no value here holds a tab, newline or backslash)."""
    out = io.StringIO()
    for row in rows:
        out.write("\t".join("\\N" if v is None else str(v) for v in row))
        out.write("\n")
    return out.getvalue().encode()


def _refuse_existing(count: int) -> None:
    if count:
        raise SystemExit(
            f"the store holds {count} traces of project {BENCH_PROJECT_ID!r} already: "
            "give an empty data dir / database (the generator never adds to or deletes a data set)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, required=True, help="How many traces (10 tags each).")
    parser.add_argument("--data-dir", type=Path, help="SQLite: the server data directory to fill.")
    parser.add_argument("--postgres-url", help="PostgreSQL server (or env RAYMON_BENCH_POSTGRES_URL).")
    parser.add_argument("--database", help="PostgreSQL: the database to create and fill.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--sqlite-analyze",
        action="store_true",
        help="Run ANALYZE on SQLite after the load (the server never does: off by default, as in a live store).",
    )
    args = parser.parse_args(argv)
    if args.traces <= 0:
        parser.error(f"--traces must be positive, got {args.traces}")
    started = time.perf_counter()
    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        url = sqlite_url_for(args.data_dir)
        prepare_store(url)
        load_sqlite(args.data_dir / "raymon.sqlite3", args.traces, args.seed, args.sqlite_analyze)
    else:
        postgres = postgres_from(args.postgres_url)
        if postgres is None or not args.database:
            parser.error(
                "give --data-dir (SQLite), or --database with --postgres-url / RAYMON_BENCH_POSTGRES_URL"
            )
        if not postgres.exists(args.database):
            postgres.create(args.database)
        prepare_store(postgres.url_of(args.database))
        with postgres.connect(args.database) as conn:
            load_postgres(conn, args.traces, args.seed)
    print(
        f"{args.traces} traces, {10 * args.traces} tags in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
