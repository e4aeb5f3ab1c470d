"""Ingest throughput through the HTTP API, against the raw database floor measured in the same run.

For each database (SQLite; PostgreSQL when ``--postgres-url`` or
``RAYMON_BENCH_POSTGRES_URL`` is given) and each batch size (1, 100, 1000
events per request):

- HTTP: a real ``raymon server`` process on a fresh store; ``--clients``
  threads (default 4) POST pre-serialised JSON arrays to
  ``/api/v1/projects/bench/ingest``. Events/s is wall time from the first
  request to the last answer; every answer must say all its events were
  accepted, and the store must hold exactly the events sent.
- floor: the same events as the rows ingestion ends up writing (events
  ledger, traces, tags, texts, objects), inserted into a fresh store with the
  same schema directly with the driver, one transaction per batch, no HTTP,
  no JSON, no validation, the rows prepared before the clock starts.
  SQLite: ``executemany`` on one connection (a second writer would only wait
  for the lock), with the server's pragmas (WAL, synchronous=NORMAL).
  PostgreSQL: ``COPY`` per table and ``executemany`` are both timed and the
  faster is the floor, with as many connections as the HTTP side has clients.

``--workers N`` (PostgreSQL only) runs the server as N processes sharing its port
(``raymon server --workers``). So that N processes are not credited with CPU the floor
could not use, every run also counts the whole machine's busy CPU time (``/proc/stat``:
the server's processes, the database's, the client threads, everything) and prints
CPU-milliseconds per 1,000 events for HTTP and floor: the throughput ratio says how close
the server comes to the floor's speed, the CPU ratio how much more of the machine it takes
for the same events.

HTTP and floor runs are taken in turns ``--repeat`` times (default 3), each on
a fresh store, and the best run of each counts: on a shared machine the best
run is the least disturbed one. Each HTTP run is also paired with the floor run after it: the
median and spread of those per-run ratios are printed too (the steadier figure). Prints events/s for both and the ratio
HTTP / floor. Target (issue 17): at least 0.7, steadily (the median of 5 runs), for
batches of 1000. The figures are in bench/README.md.

    python bench/server_ingest.py [--batches 1,100,1000] [--clients 4] [--scale 1.0] [--repeat 3]
        [--workers 1] [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5440/postgres] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import BENCH_PROJECT_ID, BenchServer, PostgresServer, postgres_from, sqlite_url_for  # noqa: E402
from gen_traces import prepare_store  # noqa: E402
from ingest_workload import COLUMNS, TableRows, batches, build_events, table_rows  # noqa: E402

EVENTS_PER_BATCH_SIZE = {1: 3_000, 10: 10_000, 100: 30_000, 1000: 60_000}
WORK_DIR = Path(tempfile.gettempdir()) / "raymon-bench"


def events_for(batch_size: int, scale: float) -> int:
    base = EVENTS_PER_BATCH_SIZE.get(batch_size, max(3_000, 60 * batch_size))
    return max(batch_size, int(base * scale))


def machine_busy_seconds() -> float:
    """The whole machine's busy CPU time so far (every core, every process), from ``/proc/stat``."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # user..steal, not guest (counted in user)


# -- HTTP ----------------------------------------------------------------------------------------
def run_http(server: BenchServer, bodies: list[tuple[bytes, int]], clients: int) -> tuple[float, int]:
    """Seconds to send every body with ``clients`` threads, and how many 429 answers were retried."""
    work: queue.Queue[tuple[bytes, int]] = queue.Queue()
    for item in bodies:
        work.put(item)
    errors: list[str] = []
    retried = [0]
    path = f"/api/v1/projects/{server.project_id}/ingest"

    def client_loop() -> None:
        with server.client() as client:
            while not errors:
                try:
                    body, n = work.get_nowait()
                except queue.Empty:
                    return
                while True:
                    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
                    if response.status_code == 429:
                        retried[0] += 1
                        time.sleep(float(response.headers.get("Retry-After", "1")))
                        continue
                    break
                answer = response.json() if response.status_code in (200, 207, 422) else {}
                if response.status_code != 200 or answer.get("accepted") != n:
                    errors.append(f"{response.status_code}: {response.text[:300]}")

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(
            f"ingest failed ({len(errors)} requests), first: {errors[0]}\n{server.log()[-2000:]}"
        )
    return elapsed, retried[0]


def count_events(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())
    finally:
        engine.dispose()


# -- floor ---------------------------------------------------------------------------------------
def sqlite_ts(ts: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (what the server writes)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert_sql(table: str, mark: str) -> str:
    columns = COLUMNS[table]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


def floor_sqlite(path: Path, rows: list[TableRows]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    statements = {table: _insert_sql(table, "?") for table in COLUMNS}
    try:
        started = time.perf_counter()
        for batch in rows:
            conn.execute("BEGIN IMMEDIATE")
            for table in COLUMNS:
                values = getattr(batch, table)
                if values:
                    conn.executemany(statements[table], values)
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def floor_postgres(
    postgres: PostgresServer, database: str, rows: list[TableRows], connections: int, copy: bool
) -> float:
    """Seconds to write every batch (one transaction each) over ``connections`` connections.

    The trace rows go first, in one transaction (timed with the rest), so that concurrent
    batches never reference a trace another connection has not committed yet.
    """
    work: queue.Queue[TableRows] = queue.Queue()
    for batch in rows:
        work.put(batch)
    statements = {table: _insert_sql(table, "%s") for table in COLUMNS}
    errors: list[BaseException] = []
    conns = [postgres.connect(database) for _ in range(connections)]

    def write(conn: Any, tables: dict[str, list[tuple[Any, ...]]]) -> None:
        with conn.transaction():
            cursor = conn.cursor()
            for table, values in tables.items():
                if not values:
                    continue
                if copy:
                    with cursor.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as stream:
                        for row in values:
                            stream.write_row(row)
                else:
                    cursor.executemany(statements[table], values)

    def worker(conn: Any) -> None:
        try:
            while True:
                try:
                    batch = work.get_nowait()
                except queue.Empty:
                    return
                write(conn, {t: getattr(batch, t) for t in COLUMNS if t != "traces"})
        except BaseException as exc:  # noqa: BLE001 - reported after join
            errors.append(exc)

    try:
        started = time.perf_counter()
        write(conns[0], {"traces": [row for batch in rows for row in batch.traces]})
        threads = [threading.Thread(target=worker, args=(conn,)) for conn in conns]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        for conn in conns:
            conn.close()
    if errors:
        raise errors[0]
    return elapsed


# -- one measurement -----------------------------------------------------------------------------
class Result:
    def __init__(
        self, db: str, batch_size: int, events: int, http_s: float, floor_s: float, floor_kind: str
    ) -> None:
        self.db, self.batch_size, self.events = db, batch_size, events
        self.http_eps = events / http_s
        self.floor_eps = events / floor_s
        self.floor_kind = floor_kind
        self.paired: list[float] = []  # per-run HTTP / floor ratios
        self.http_cpu: list[float] = []  # per run, the machine's CPU ms per 1,000 events
        self.floor_cpu: list[float] = []  # per run, of the faster way of that run

    @property
    def ratio(self) -> float:
        return self.http_eps / self.floor_eps

    def line(self) -> str:
        return (
            f"| {self.db:10} | {self.batch_size:>5} | {self.events:>7} | {self.http_eps:>10,.0f} | "
            f"{self.floor_eps:>10,.0f} ({self.floor_kind}) | {self.ratio:>5.2f} |"
        )


HEADER = (
    "| database   | batch | events  | HTTP ev/s  | floor ev/s            | ratio |\n"
    "|------------|------:|--------:|-----------:|----------------------:|------:|"
)


def http_once(
    db: str,
    work: Path,
    postgres: PostgresServer | None,
    bodies: list[tuple[bytes, int]],
    clients: int,
    n_events: int,
    workers: int = 1,
) -> tuple[float, int, float]:
    """One HTTP run on a fresh store: seconds, 429 answers retried, the machine's busy CPU seconds."""
    database_url = postgres.create() if postgres else ""
    env = {"RAYMON_WORKERS": str(workers)} if workers > 1 else {}
    try:
        with BenchServer(work, database_url, **env) as server:
            with server.client() as client:  # warm up each worker's key lookup and connection pool
                for _ in range(4 * workers):
                    client.get(f"/api/v1/projects/{server.project_id}/traces", params={"limit": 1})
            busy = machine_busy_seconds()
            seconds, retried = run_http(server, bodies, clients)
            busy = machine_busy_seconds() - busy
            stored = count_events(server.effective_database_url)
        if stored != n_events:
            raise RuntimeError(f"the {db} store holds {stored} events, {n_events} were sent")
        return seconds, retried, busy
    finally:
        if postgres is not None and database_url:
            postgres.drop(database_url)


def floor_once(
    work: Path, postgres: PostgresServer | None, batch_list: list[list[Any]], clients: int
) -> dict[str, tuple[float, float]]:
    """One floor run per way of inserting, each on a fresh store: (seconds, machine's busy CPU seconds) by way."""
    received = datetime.now(UTC)
    if postgres is None:
        work.mkdir(parents=True)
        prepare_store(sqlite_url_for(work))
        rows = table_rows(batch_list, BENCH_PROJECT_ID, sqlite_ts(received), sqlite_ts)
        busy = machine_busy_seconds()
        seconds = floor_sqlite(work / "raymon.sqlite3", rows)
        return {"executemany": (seconds, machine_busy_seconds() - busy)}
    rows = table_rows(batch_list, BENCH_PROJECT_ID, received.isoformat(), lambda ts: ts)
    timings = {}
    for kind in ("COPY", "executemany"):
        url = postgres.create()
        try:
            prepare_store(url)
            busy = machine_busy_seconds()
            seconds = floor_postgres(postgres, url.rsplit("/", 1)[1], rows, clients, kind == "COPY")
            timings[kind] = (seconds, machine_busy_seconds() - busy)
        finally:
            postgres.drop(url)
    return timings


def measure(
    db: str,
    batch_size: int,
    n_events: int,
    clients: int,
    repeat: int,
    postgres: PostgresServer | None,
    say: Callable[[str], None],
    workers: int = 1,
) -> Result:
    """HTTP and floor runs taken in turns, ``repeat`` times each; the best run of each counts."""
    events = build_events(BENCH_PROJECT_ID, n_events)
    batch_list = batches(events, batch_size)
    bodies = [(orjson.dumps(batch), len(batch)) for batch in batch_list]
    work = Path(tempfile.mkdtemp(prefix="ingest-", dir=WORK_DIR))
    http_runs: list[float] = []
    http_cpu: list[float] = []
    floor_runs: dict[str, list[float]] = {}
    floor_cpu: dict[str, list[float]] = {}
    try:
        for run in range(repeat):
            say(
                f"{db}, batch {batch_size}, run {run + 1}/{repeat}: HTTP, {len(bodies)} requests, {clients} clients"
            )
            seconds, retried, busy = http_once(
                db, work / f"server-{run}", postgres, bodies, clients, n_events, workers
            )
            http_runs.append(seconds)
            http_cpu.append(busy)
            if retried:
                say(f"  ({retried} requests answered 429 and retried)")
            say(f"{db}, batch {batch_size}, run {run + 1}/{repeat}: floor")
            for kind, (floor_s, busy) in floor_once(
                work / f"floor-{run}", postgres, batch_list, clients
            ).items():
                floor_runs.setdefault(kind, []).append(floor_s)
                floor_cpu.setdefault(kind, []).append(busy)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor_kind = min(floor_runs, key=lambda k: min(floor_runs[k]))
    # Per run, HTTP against the floor taken right after it (the faster way of that run): the
    # median and spread of these paired ratios is the steadier figure on a shared machine.
    paired = [
        floor_s / http_s
        for http_s, floor_s in zip(
            http_runs, [min(f) for f in zip(*floor_runs.values(), strict=True)], strict=True
        )
    ]
    say(
        f"{db}, batch {batch_size}: per-run ratios {', '.join(f'{r:.2f}' for r in paired)}; "
        f"median {statistics.median(paired):.2f}, spread {min(paired):.2f}-{max(paired):.2f}"
    )
    result = Result(db, batch_size, n_events, min(http_runs), min(floor_runs[floor_kind]), floor_kind)
    result.paired = paired
    per_kev = 1000.0 * 1000.0 / n_events  # CPU seconds -> ms per 1,000 events
    result.http_cpu = [busy * per_kev for busy in http_cpu]
    fastest = [min(floor_runs, key=lambda k, i=i: floor_runs[k][i]) for i in range(repeat)]
    result.floor_cpu = [floor_cpu[kind][i] * per_kev for i, kind in enumerate(fastest)]
    say(
        f"{db}, batch {batch_size}: machine CPU ms per 1,000 events, HTTP "
        f"{', '.join(f'{c:.0f}' for c in result.http_cpu)}; floor {', '.join(f'{c:.0f}' for c in result.floor_cpu)}"
    )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Ingest throughput through the HTTP API against the raw insert floor (see the module docstring)."
    )
    parser.add_argument(
        "--batches", default="1,100,1000", help="Batch sizes, comma-separated (default 1,100,1000)."
    )
    parser.add_argument("--clients", type=int, default=4, help="Concurrent HTTP client threads (default 4).")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="Multiply the events per batch size (3k, 30k, 60k) by this."
    )
    parser.add_argument(
        "--postgres-url", help="PostgreSQL server to also run on (or env RAYMON_BENCH_POSTGRES_URL)."
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="HTTP and floor runs, taken in turns; the best of each counts."
    )
    parser.add_argument("--no-sqlite", action="store_true", help="Skip SQLite.")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Server processes (raymon server --workers) on PostgreSQL; SQLite always runs one (default 1).",
    )
    args = parser.parse_args(argv)
    try:
        sizes = [int(x) for x in args.batches.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--batches must be integers separated by commas, got {args.batches!r}")
    if not sizes or min(sizes) < 1 or max(sizes) > 10_000:
        parser.error(f"--batches must be between 1 and 10000 events, got {args.batches!r}")
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    if args.clients < 1:
        parser.error(f"--clients must be at least 1, got {args.clients}")
    postgres = postgres_from(args.postgres_url)
    WORK_DIR.mkdir(parents=True, exist_ok=True)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    targets: list[tuple[str, PostgresServer | None]] = [] if args.no_sqlite else [("sqlite", None)]
    if postgres is not None:
        targets.append(("postgresql", postgres))
    else:
        say("PostgreSQL skipped: give --postgres-url or RAYMON_BENCH_POSTGRES_URL to run it too")
    if not targets:
        parser.error("nothing to run: --no-sqlite without --postgres-url / RAYMON_BENCH_POSTGRES_URL")
    results = []
    for db, pg in targets:
        for size in sizes:
            results.append(
                measure(
                    db,
                    size,
                    events_for(size, args.scale),
                    args.clients,
                    args.repeat,
                    pg,
                    say,
                    workers=args.workers if pg is not None else 1,
                )
            )
            say(results[-1].line())
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end (1/5/15 min): {load} on {os.cpu_count()} cores")
    print(
        f"\nIngest throughput, {args.clients} HTTP clients; ratio = HTTP / floor (target >= 0.7 at batch 1000, issue 17)"
    )
    print(HEADER)
    for result in results:
        print(result.line())
    print("\nPer-run ratios (HTTP run / the floor run after it): median, spread")
    for result in results:
        runs = ", ".join(f"{r:.2f}" for r in result.paired)
        print(
            f"{result.db:10} batch {result.batch_size:>5}: median {statistics.median(result.paired):.2f}, "
            f"spread {min(result.paired):.2f}-{max(result.paired):.2f} ({runs})"
        )
    print(
        f"\nThe whole machine's busy CPU, ms per 1,000 events, medians over the runs "
        f"(PostgreSQL server processes: {args.workers}); CPU ratio = floor / HTTP"
    )
    for result in results:
        http_cpu, floor_cpu = statistics.median(result.http_cpu), statistics.median(result.floor_cpu)
        print(
            f"{result.db:10} batch {result.batch_size:>5}: HTTP {http_cpu:.0f}, floor {floor_cpu:.0f}, "
            f"CPU ratio {floor_cpu / http_cpu:.2f}"
        )


if __name__ == "__main__":
    main()
