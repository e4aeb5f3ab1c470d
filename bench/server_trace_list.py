"""Trace list latency with tag filters of one to four conditions at 10k to 10M traces, through the HTTP API.

For each database (SQLite; PostgreSQL when ``--postgres-url`` or
``RAYMON_BENCH_POSTGRES_URL`` is given) and each size, a real ``raymon
server`` runs on a data set made by ``bench/gen_traces.py`` (made first if
missing, kept under ``--data-root``, default ``/tmp/raymon-bench/``, for the
next run; PostgreSQL databases ``raymon_bench_<size>``) and one client calls
``GET /api/v1/projects/bench/traces?filter=...&limit=100`` (newest first, with
each trace's tags, as the UI asks): the first page, then the following pages by
``next_cursor``. Filters of different selectivity (the generator's tags are
independent, so the shares multiply):

    none        (no filter)                                           the baseline: 100%
    most        status==ok && latency_ms<450                          ~85% (text and number)
    one_pct     client==c7 && app==v2                                 ~1%
    rare        shard==s42 && client==c7                              ~0.01% (100 traces at 1M)
    three       client==c7 && app==v2 && region==eu-west              ~0.2%
    four        client==c7 && app==v2 && region==eu-west && model==m3 ~0.04%
    four_ne     client==c7 && app==v2 && region!=eu-west && model==m3 ~0.16%
    four_range  client==c7 && app==v2 && model==m3 && latency_ms<100  ~0.04%
    or_pairs    (client==c7 && app==v2) || (region==eu-west && model==m3)   ~5%
    or_four     client==c7 || app==v2 || region==eu-west || model==m3       ~48%
    weak        client==c7 && app==v2 && model==m3 && host==h3        ~0.004%: each condition
                common (2-20%), the conjunction 40 traces at 1M: SQLite's merge reads the
                whole project, PostgreSQL asks its index of terms (``store.tag_terms``)
    weak_err    status==error && client==c7 && app==v2 && model==m3   ~0.01%

Prints p50/p95 per page kind (first, next), the ratio of each filter's p95 to
the unfiltered baseline's, and how the p95 grows from the smallest to the
largest size (flat = index work, not scans). Every answer is checked: each
returned trace must satisfy the filter. Target (issue 17): p95 < 50 ms at 1M
traces on both databases (``--target-ms``), < 100 ms at 10M on PostgreSQL.
``--explain`` prints the plan and time of every statement the store runs for
each filter's first page.

    python bench/server_trace_list.py [--sizes 10000,100000,1000000] [--rounds 20] [--pages 5]
        [--filters none,four,weak] [--sorts received,time] [--data-root DIR]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5440/postgres]
        [--no-sqlite] [--explain] [--target-ms 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import (  # noqa: E402
    BENCH_PROJECT_ID,
    BenchServer,
    PostgresServer,
    postgres_from,
    sqlite_url_for,
)

DATA_ROOT = Path(tempfile.gettempdir()) / "raymon-bench"
FILTERS = {
    "none": "",
    "most": "status==ok && latency_ms<450",
    "one_pct": "client==c7 && app==v2",
    "rare": "shard==s42 && client==c7",
    "three": "client==c7 && app==v2 && region==eu-west",
    "four": "client==c7 && app==v2 && region==eu-west && model==m3",
    "four_ne": "client==c7 && app==v2 && region!=eu-west && model==m3",
    "four_range": "client==c7 && app==v2 && model==m3 && latency_ms<100",
    "or_pairs": "(client==c7 && app==v2) || (region==eu-west && model==m3)",
    "or_four": "client==c7 || app==v2 || region==eu-west || model==m3",
    "weak": "client==c7 && app==v2 && model==m3 && host==h3",
    "weak_err": "status==error && client==c7 && app==v2 && model==m3",
}
TARGET_P95_MS = 50.0  # at 1M traces, both databases (issue 17); 100 ms at 10M on PostgreSQL


@dataclass
class Timings:
    first: list[float] = field(default_factory=list)
    following: list[float] = field(default_factory=list)
    returned: int = 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def sqlite_dir(size: int) -> Path:
    return DATA_ROOT / f"sqlite-{size}"


def set_data_root(root: Path) -> None:
    """Where the SQLite data sets (``sqlite-<size>``) and the servers' working directories live."""
    global DATA_ROOT
    DATA_ROOT = root


def pg_database(size: int) -> str:
    return f"raymon_bench_{size}"


def ensure_data(size: int, postgres: PostgresServer | None) -> None:
    """Make the data set of ``size`` traces with gen_traces.py unless it is there already."""
    if postgres is None:
        if (sqlite_dir(size) / "raymon.sqlite3").exists():
            return
        command = ["--data-dir", str(sqlite_dir(size))]
    else:
        if postgres.exists(pg_database(size)):
            return
        command = ["--postgres-url", postgres.url.render_as_string(hide_password=False)]
        command += ["--database", pg_database(size)]
    print(f"making the data set: {size} traces ({'PostgreSQL' if postgres else 'SQLite'})", file=sys.stderr)
    generator = Path(__file__).resolve().parent / "gen_traces.py"
    subprocess.run([sys.executable, str(generator), "--traces", str(size), *command], check=True)


def check_page(expression: str, traces: list[dict[str, Any]]) -> None:
    """Every trace on the page must satisfy the filter (so the benchmark times real answers)."""
    if not expression:
        return
    from raymon.server.services.tagfilter import evaluate, parse

    tree = parse(expression)
    for trace in traces:
        tags = {tag["name"]: tag["value"] for tag in trace["tags"]}
        if not evaluate(tree, tags):
            raise AssertionError(
                f"trace {trace['trace_id']} with tags {tags} does not satisfy {expression!r}"
            )


def time_filter(
    server: BenchServer, expression: str, rounds: int, pages: int, limit: int, sort: str | None
) -> Timings:
    timings = Timings()
    path = f"/api/v1/projects/{server.project_id}/traces"
    with server.client() as client:
        for round_no in range(rounds + 2):  # two warm-up rounds, not counted
            cursor = None
            for page in range(pages):
                params: dict[str, Any] = {"limit": limit}
                if sort:
                    params["sort"] = sort
                if expression:
                    params["filter"] = expression
                if cursor:
                    params["cursor"] = cursor
                started = time.perf_counter()
                response = client.get(path, params=params)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code} for {params}: {response.text[:300]}")
                body = response.json()
                if round_no >= 2:
                    (timings.first if page == 0 else timings.following).append(elapsed)
                    timings.returned += len(body["traces"])
                if round_no == 2:
                    check_page(expression, body["traces"])
                cursor = body["next_cursor"]
                if not cursor:
                    break
    return timings


def explain(database_url: str, expression: str, limit: int, sort: str) -> str:
    """The plan of every statement the store runs for the first page of ``expression``, with its time (rerun).

    The page is read in process by the store's own functions (``page_by_received`` or
    ``page_by_time``), recording each statement and its parameters, which are then
    explained: SQLite's ``EXPLAIN QUERY PLAN``, PostgreSQL's ``EXPLAIN ANALYZE``.
    """
    from sqlalchemy import event

    from raymon.server.services.traces import TraceFilter, selection
    from raymon.server.store.db import Database
    from raymon.server.store.traces import page_by_received, page_by_time

    database = Database(database_url, pool_size=1)
    statements: list[list[Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append([statement, parameters, time.perf_counter()])

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements[-1][2] = (time.perf_counter() - statements[-1][2]) * 1000

    event.listen(database.engine, "before_cursor_execute", before)
    event.listen(database.engine, "after_cursor_execute", after)
    try:
        sel = selection(TraceFilter(expression=expression or None))
        with database.session() as session:
            if sort == "time":
                page_by_time(session, BENCH_PROJECT_ID, sel, "desc", limit + 1, None)
            else:
                page_by_received(session, BENCH_PROJECT_ID, sel, "desc", limit + 1, None)
        event.remove(database.engine, "before_cursor_execute", before)
        event.remove(database.engine, "after_cursor_execute", after)
        prefix = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) "
        out = []
        with database.engine.connect() as conn:
            for statement, parameters, _ in statements:
                if statement.startswith("BEGIN"):
                    continue
                started = time.perf_counter()
                conn.exec_driver_sql(statement, parameters).all()  # again, to time it with its rows
                ms = (time.perf_counter() - started) * 1000
                rows = conn.exec_driver_sql(prefix + statement, parameters).all()
                first_line = " ".join(statement.split())[:110]
                out.append(f"  [{ms:6.1f} ms] {first_line}")
                out += ["      " + " ".join(str(c) for c in row[-1:]) for row in rows]
        return "\n".join(out)
    finally:
        database.dispose()


def compare_plans(database_url: str, names: list[str], rounds: int, limit: int) -> list[str]:
    """The merge plan against the plan without it, in process and interleaved request by request.

    Each round reads each filter's first page (and its tags, as the API does, without
    HTTP) twice, once as the store plans it and once with ``tagfilter_merge.plan_merge``
    switched off (the driver-and-probe plan of before), in alternating order, so both
    see the same load. Prints p50 / p95 of each and the ratio of the p50s.
    """
    from raymon.server.backend import build_backend
    from raymon.server.services.traces import TraceFilter, list_traces
    from raymon.server.settings import Settings
    from raymon.server.store import tagfilter_merge
    from raymon.server.store.db import Database

    database = Database(database_url, pool_size=1)
    backend = build_backend(Settings(data_dir=Path(tempfile.mkdtemp())), database=database)
    planned = tagfilter_merge.plan_merge
    out = []
    try:
        for name in names:
            flt = TraceFilter(expression=FILTERS[name] or None)
            times: dict[str, list[float]] = {"merge": [], "probes": []}
            for round_no in range(rounds + 2):
                kinds = ["merge", "probes"] if round_no % 2 else ["probes", "merge"]
                for kind in kinds:
                    tagfilter_merge.plan_merge = planned if kind == "merge" else (lambda *a, **k: None)  # type: ignore[assignment]
                    started = time.perf_counter()
                    list_traces(backend, BENCH_PROJECT_ID, flt, limit=limit)
                    if round_no >= 2:
                        times[kind].append((time.perf_counter() - started) * 1000)
            m, p = times["merge"], times["probes"]
            out.append(
                f"| {database.engine.dialect.name:10} | {name:10} | {percentile(m, 50):7.1f} / {percentile(m, 95):7.1f} "
                f"| {percentile(p, 50):7.1f} / {percentile(p, 95):7.1f} | {percentile(p, 50) / percentile(m, 50):6.1f}x |"
            )
            print(out[-1], file=sys.stderr, flush=True)
    finally:
        tagfilter_merge.plan_merge = planned  # type: ignore[assignment]
        database.dispose()
    return out


@dataclass
class Row:
    db: str
    size: int
    name: str
    timings: Timings
    sort: str = "default"

    @property
    def first_p95(self) -> float:
        return percentile(self.timings.first, 95)


def run_database(
    db: str, postgres: PostgresServer | None, sizes: list[int], args: argparse.Namespace
) -> list[Row]:
    rows = []
    for size in sizes:
        ensure_data(size, postgres)
        if postgres is None:
            server = BenchServer(sqlite_dir(size))
        else:
            server = BenchServer(DATA_ROOT / f"pg-server-{size}", postgres.url_of(pg_database(size)))
        with server:
            for sort in args.sorts:
                for name, expression in FILTERS.items():
                    if name not in args.filters:
                        continue
                    if args.explain and expression:
                        print(f"-- {db} {size} {name} ({sort or 'received'}): {expression}", file=sys.stderr)
                        plan = explain(server.effective_database_url, expression, args.limit, sort)
                        print(plan, file=sys.stderr)
                    timings = time_filter(
                        server, expression, args.rounds, args.pages, args.limit, sort or None
                    )
                    row = Row(db, size, name, timings, sort or "default")
                    rows.append(row)
                    print(line(row, None), file=sys.stderr, flush=True)
    return rows


def line(row: Row, baseline: Row | None) -> str:
    t = row.timings
    ratio = f"{row.first_p95 / baseline.first_p95:5.1f}" if baseline else "    -"
    following = (
        f"{percentile(t.following, 50):8.1f} | {percentile(t.following, 95):8.1f}"
        if t.following
        else "       - |        -"
    )
    return (
        f"| {row.db:10} | {row.sort:8} | {row.size:>10,} | {row.name:10} | {percentile(t.first, 50):8.1f} | "
        f"{row.first_p95:8.1f} | {following} | {ratio} |"
    )


HEADER = (
    "| database   | sort     | traces     | filter     | first p50 | first p95 | next p50 | next p95 | p95 / none |\n"
    "|------------|----------|-----------:|------------|----------:|----------:|---------:|---------:|-----------:|"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Trace list latency with tag filters at growing sizes (see the module docstring)."
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="Trace counts, comma-separated.")
    parser.add_argument(
        "--rounds", type=int, default=20, help="Timed rounds per filter (after 2 warm-up rounds)."
    )
    parser.add_argument("--pages", type=int, default=5, help="Pages per round: the first, then by cursor.")
    parser.add_argument("--limit", type=int, default=100, help="Traces per page (default 100).")
    parser.add_argument(
        "--postgres-url", help="PostgreSQL server to also run on (or env RAYMON_BENCH_POSTGRES_URL)."
    )
    parser.add_argument("--no-sqlite", action="store_true", help="Skip SQLite.")
    parser.add_argument(
        "--data-root",
        type=Path,
        default=DATA_ROOT,
        help=f"Where sqlite-<size> data sets live (default {DATA_ROOT}).",
    )
    parser.add_argument(
        "--sorts",
        default="",
        help="The API's sort values to time, comma-separated (e.g. received,time); default: the API's default.",
    )
    parser.add_argument(
        "--explain", action="store_true", help="Print the plan of each statement of each filter's first page."
    )
    parser.add_argument(
        "--filters",
        default=",".join(FILTERS),
        help=f"Filters to time, comma-separated (of {', '.join(FILTERS)}).",
    )
    parser.add_argument(
        "--compare-plans",
        action="store_true",
        help="Instead: time each filter's first page in process with and without the merge plan, interleaved.",
    )
    parser.add_argument(
        "--target-ms", type=float, default=TARGET_P95_MS, help="The p95 target at the largest size (ms)."
    )
    args = parser.parse_args(argv)
    try:
        sizes = sorted(int(x) for x in args.sizes.split(",") if x.strip())
    except ValueError:
        parser.error(f"--sizes must be integers separated by commas, got {args.sizes!r}")
    if not sizes or sizes[0] <= 0:
        parser.error(f"--sizes must be positive, got {args.sizes!r}")
    if args.rounds < 1 or args.pages < 1 or not 1 <= args.limit <= 1000:
        parser.error("--rounds and --pages must be at least 1, --limit between 1 and 1000")
    args.sorts = [x.strip() for x in args.sorts.split(",")] if args.sorts.strip() else [""]
    args.filters = [x.strip() for x in args.filters.split(",") if x.strip()]
    unknown = [x for x in args.filters if x not in FILTERS]
    if unknown:
        parser.error(f"unknown --filters {unknown}; known: {list(FILTERS)}")
    set_data_root(args.data_root)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    postgres = postgres_from(args.postgres_url)
    targets: list[tuple[str, PostgresServer | None]] = [] if args.no_sqlite else [("sqlite", None)]
    if postgres is not None:
        targets.append(("postgresql", postgres))
    else:
        print(
            "PostgreSQL skipped: give --postgres-url or RAYMON_BENCH_POSTGRES_URL to run it too",
            file=sys.stderr,
        )
    if not targets:
        parser.error("nothing to run: --no-sqlite without --postgres-url / RAYMON_BENCH_POSTGRES_URL")
    if args.compare_plans:
        print("| database   | filter     | merge p50 / p95 ms | probes p50 / p95 ms | probes / merge (p50) |")
        print("|------------|------------|-------------------:|--------------------:|---------------------:|")
        for size in sizes:
            for _db, pg in targets:
                ensure_data(size, pg)
                url = sqlite_url_for(sqlite_dir(size)) if pg is None else pg.url_of(pg_database(size))
                for text in compare_plans(url, args.filters, args.rounds, args.limit):
                    print(text)
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\nload average at the end (1/5/15 min): {load} on {os.cpu_count()} cores")
        return
    rows: list[Row] = []
    for db, pg in targets:
        rows += run_database(db, pg, sizes, args)

    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end (1/5/15 min): {load} on {os.cpu_count()} cores")
    print(f"\nTrace list latency in ms, limit={args.limit}, {args.rounds} rounds x up to {args.pages} pages")
    print(HEADER)
    baselines = {(r.db, r.sort, r.size): r for r in rows if r.name == "none"}
    for row in rows:
        print(line(row, baselines.get((row.db, row.sort, row.size))))
    print(f"\nGrowth of the first-page p95 from {sizes[0]:,} to {sizes[-1]:,} traces (1.0 = flat):")
    by_key = {(r.db, r.sort, r.size, r.name): r for r in rows}
    misses = []
    for db, _ in targets:
        for sort in dict.fromkeys(r.sort for r in rows):
            for name in args.filters:
                small, large = by_key[(db, sort, sizes[0], name)], by_key[(db, sort, sizes[-1], name)]
                print(f"  {db:10} {sort:8} {name:10} {large.first_p95 / small.first_p95:6.2f}x")
                following = percentile(large.timings.following, 95) if large.timings.following else 0.0
                worst = max(large.first_p95, following)
                if worst >= args.target_ms:
                    misses.append(f"{db} sort={sort} {name}: p95 {worst:.0f} ms at {sizes[-1]:,} traces")
    print(
        f"\nTarget p95 < {args.target_ms:.0f} ms at {sizes[-1]:,} traces: "
        + ("; ".join(misses) if misses else "met")
    )


if __name__ == "__main__":
    main()
