"""The web UI's text search and the tag-stats call at 1,000,000 traces, SQLite and PostgreSQL, through HTTP.

A real ``raymon server`` runs on a ``gen_traces.py`` data set (traces, 10 tags and 1-3 log
lines each: its docstring describes the words), made first when missing: SQLite under
``--data-root`` (``sqlite-<N>``), PostgreSQL as database ``<--pg-prefix><N>``. One client
signs in (the bench user) and, for each word, asks as the trace list does:

    first   the results block of ``GET /projects/bench/traces?text=<word>`` (htmx), 50 traces
    next    the page after it, by the block's own "Older" link (when there is one)
    count   the capped count (``part=count``), which htmx loads after the table

(``none``: the same without a text, the baseline of the same run) and ``tags``: ``GET /api/v1/projects/bench/tags`` (the tag statistics a filter box suggests
from; the default sample of the newest 10,000 traces: ``tags counted`` with ``Cache-Control:
no-cache``, counted for the request, then ``tags`` as a client asks, answered from that count
while it is at most ``RAYMON_TAG_STATS_MAX_AGE_SECONDS`` old). Words, by how many traces hold them
at 1M: ``request`` (common: the vocabulary's first word, in most traces), ``feature`` and
``tedar`` (mid: ranks 21 and 301), ``deadlock`` (rare: ~0.02%, ~200 traces),
``xylophone`` (absent). Times are measured on the client to the last byte (127.0.0.1).

Targets (what typing in a search box needs: an answer within a keystroke's pause):
first page p95 < 250 ms, next page < 250 ms, count < 300 ms, tags < 150 ms, at 1M traces
on both databases. ``--compare`` instead times the first page and the count in process,
with the index of texts and without it (the LIKE walk of before), interleaved request by
request, and prints the ratio of their p50s. ``--ingest-cost`` times inserting 20,000 log
lines into fresh stores without the index (migrated to 0019) and with it (head), interleaved.

    python bench/server_search.py [--size 1000000] [--rounds 20] [--data-root DIR]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5440/postgres] [--no-sqlite]
        [--pg-prefix raymon_search_] [--compare] [--ingest-cost]
"""

from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import BENCH_PROJECT_ID, BenchServer, PostgresServer, postgres_from, sqlite_url_for  # noqa: E402
from server_trace_list import percentile  # noqa: E402
from ui_trace_list import signed_in  # noqa: E402

WORDS = {
    "none": "",  # the baseline: the same page and count without a text search
    "common": "request",
    "mid5": "feature",
    "mid05": "tedar",
    "rare": "deadlock",
    "absent": "xylophone",
}
TARGETS_MS = {"first": 250.0, "next": 250.0, "count": 300.0, "tags": 150.0, "tags counted": 150.0}
_NEXT = re.compile(r'rel="next" href="([^"]+)"')
_ROW = re.compile(r'class="trace-link"')


def ensure_data(root: Path, size: int, postgres: PostgresServer | None, database: str) -> None:
    """Make the data set with gen_traces.py unless it is there."""
    if postgres is None:
        if (root / f"sqlite-{size}" / "raymon.sqlite3").exists():
            return
        target = ["--data-dir", str(root / f"sqlite-{size}")]
    else:
        if postgres.exists(database):
            return
        target = [
            "--postgres-url",
            postgres.url.render_as_string(hide_password=False),
            "--database",
            database,
        ]
    generator = Path(__file__).resolve().parent / "gen_traces.py"
    subprocess.run([sys.executable, str(generator), "--traces", str(size), *target], check=True)


def timed(client: Any, url: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.get(url, params=params, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code} for {url} {params}: {response.text[:300]}")
    return elapsed, response.text


def run(server: BenchServer, rounds: int) -> dict[tuple[str, str], list[float]]:
    url = f"/projects/{server.project_id}/traces"
    htmx = {"HX-Request": "true"}
    times: dict[tuple[str, str], list[float]] = {}
    client = signed_in(server)
    api = server.client()
    try:
        for name, word in WORDS.items():
            for round_no in range(rounds + 2):  # two warm-up rounds
                took: dict[str, float] = {}
                params = {"text": word} if word else {}
                took["first"], body = timed(client, url, params, htmx)
                following = _NEXT.search(body)
                if following is not None:
                    took["next"], _ = timed(client, html.unescape(following.group(1)), {}, htmx)
                took["count"], counted = timed(client, url, {**params, "part": "count"}, htmx)
                stats_url = f"/api/v1/projects/{server.project_id}/tags"
                took["tags counted"], _ = timed(api, stats_url, {}, {"Cache-Control": "no-cache"})
                took["tags"], _ = timed(api, stats_url, {}, {})
                if round_no == 2:
                    said = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", counted)).strip()
                    print(
                        f"  {name} {word!r}: {len(_ROW.findall(body))} on page 1, count: {said}",
                        file=sys.stderr,
                    )
                if round_no >= 2:
                    for kind, ms in took.items():
                        times.setdefault((name, kind), []).append(ms)
    finally:
        client.close()
        api.close()
    return times


def compare(database_url: str, rounds: int) -> list[str]:
    """First page and count in process, with the index and with the walk only, interleaved."""
    from raymon.server.backend import build_backend
    from raymon.server.services.traces import TraceFilter, browse_traces, count_traces
    from raymon.server.settings import Settings
    from raymon.server.store import traces as trace_store
    from raymon.server.store.db import Database

    database = Database(database_url, pool_size=1)
    backend = build_backend(Settings(data_dir=Path(tempfile.mkdtemp())), database=database)
    planned = trace_store._index_pays
    out = []
    try:
        for name, word in WORDS.items():
            if not word:
                continue
            flt = TraceFilter(text=word)
            took: dict[str, list[float]] = {}
            for round_no in range(rounds + 2):
                kinds = ["index", "walk"] if round_no % 2 else ["walk", "index"]
                for kind in kinds:
                    trace_store._index_pays = planned if kind == "index" else (lambda *a, **k: False)
                    started = time.perf_counter()
                    page = browse_traces(backend, BENCH_PROJECT_ID, flt, limit=50)
                    first = (time.perf_counter() - started) * 1000
                    started = time.perf_counter()
                    counted = count_traces(backend, BENCH_PROJECT_ID, flt)
                    count = (time.perf_counter() - started) * 1000
                    if round_no >= 2:
                        took.setdefault(f"{kind} first", []).append(first)
                        took.setdefault(f"{kind} count", []).append(count)
                    if round_no == 2:
                        print(
                            f"  {kind} {word}: {len(page.traces)} on page 1, window used up: "
                            f"{page.window_used_up}, count {counted.count} exact {counted.exact}",
                            file=sys.stderr,
                        )
            cells = []
            for part in ("first", "count"):
                index, walk = took[f"index {part}"], took[f"walk {part}"]
                cells.append(
                    f"{percentile(index, 50):7.1f} / {percentile(index, 95):7.1f} | "
                    f"{percentile(walk, 50):7.1f} / {percentile(walk, 95):7.1f} | "
                    f"{percentile(walk, 50) / percentile(index, 50):5.2f}x"
                )
            out.append(
                f"| {database.engine.dialect.name:10} | {name:7} | {word:9} | " + " | ".join(cells) + " |"
            )
            print(out[-1], file=sys.stderr, flush=True)
    finally:
        trace_store._index_pays = planned
        database.dispose()
    return out


def ingest_cost(postgres: PostgresServer | None, rounds: int, lines: int = 20_000) -> str:
    """Seconds to insert ``lines`` log lines into a store without the index of texts (0019) and with it
    (head), interleaved ``rounds`` times on fresh stores: the index's cost per text written.

    The rows are ``gen_traces.text_rows``' (1-3 lines per trace, six words each), inserted as the
    SQLite writer does (``executemany``, one transaction) or as PostgreSQL's does (``COPY``), after
    their traces; only the texts' insert is timed.
    """
    import numpy as np

    from gen_traces import TEXT_COLUMNS, TRACE_COLUMNS, _copy_text, text_rows, trace_times, ts_texts
    from raymon.server.services import auth
    from raymon.server.store.db import Database, sqlite_url

    pg = postgres is not None
    rng = np.random.default_rng(3)
    n_traces = lines // 2
    first, last = trace_times(rng, 0, n_traces, n_traces)
    first_txt, last_txt = ts_texts(first, pg), ts_texts(last, pg)
    traces = [(i + 1, BENCH_PROJECT_ID, f"t{i}", first_txt[i], last_txt[i]) for i in range(n_traces)]
    texts = text_rows(rng, range(1, n_traces + 1), first_txt, BENCH_PROJECT_ID)
    took: dict[str, list[float]] = {"0019_dash_rollups": [], "head": []}
    for round_no in range(rounds):
        order = list(took) if round_no % 2 else list(reversed(took))
        for revision in order:
            if postgres is not None:
                url = postgres.create()
            else:
                url = sqlite_url(Path(tempfile.mkdtemp()) / "raymon.sqlite3")
            database = Database(url, pool_size=1)
            try:
                database.migrate(revision)
                with database.write_session() as session:
                    auth.ensure_project(session, BENCH_PROJECT_ID, "Benchmark data")
                with database.engine.connect() as conn:
                    raw = conn.connection.dbapi_connection
                    assert raw is not None
                    if pg:
                        with raw.cursor().copy(f"COPY traces ({TRACE_COLUMNS}) FROM STDIN") as copy:
                            copy.write(_copy_text(traces))
                        raw.commit()
                        started = time.perf_counter()
                        with raw.cursor().copy(f"COPY texts ({TEXT_COLUMNS}) FROM STDIN") as copy:
                            copy.write(_copy_text(texts))
                        raw.commit()
                    else:
                        raw.execute("BEGIN")
                        raw.executemany(
                            f"INSERT INTO traces ({TRACE_COLUMNS}) VALUES (?, ?, ?, ?, ?)", traces
                        )
                        raw.execute("COMMIT")
                        started = time.perf_counter()
                        raw.execute("BEGIN")
                        raw.executemany(f"INSERT INTO texts ({TEXT_COLUMNS}) VALUES (?, ?, ?, ?, ?)", texts)
                        raw.execute("COMMIT")
                    took[revision].append(time.perf_counter() - started)
            finally:
                database.dispose()
                if postgres is not None:
                    postgres.drop(url)
    without, with_index = (statistics.median(took[k]) for k in took)
    return (
        f"| {'postgresql' if pg else 'sqlite':10} | {len(texts):,} | {without * 1000:.0f} | {with_index * 1000:.0f} | "
        f"{with_index / without:.2f}x | {(with_index - without) / len(texts) * 1e6:.1f} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="Traces in the data set.")
    parser.add_argument(
        "--rounds", type=int, default=20, help="Timed rounds per word (after 2 warm-up rounds)."
    )
    parser.add_argument(
        "--postgres-url", help="PostgreSQL server to also run on (or env RAYMON_BENCH_POSTGRES_URL)."
    )
    parser.add_argument("--no-sqlite", action="store_true", help="Skip SQLite.")
    parser.add_argument("--pg-prefix", default="raymon_search_", help="PostgreSQL database name prefix.")
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path(tempfile.gettempdir()) / "raymon-bench-search",
        help="Where sqlite-<size> lives.",
    )
    parser.add_argument("--compare", action="store_true", help="Instead: index against walk, in process.")
    parser.add_argument(
        "--ingest-cost",
        action="store_true",
        help="Instead: the index's cost per text inserted (0019 vs head).",
    )
    args = parser.parse_args(argv)
    if args.size <= 0 or args.rounds < 1:
        parser.error("--size and --rounds must be positive")
    postgres = postgres_from(args.postgres_url)
    targets: list[tuple[str, PostgresServer | None]] = [] if args.no_sqlite else [("sqlite", None)]
    if postgres is not None:
        targets.append(("postgresql", postgres))
    if not targets:
        parser.error("nothing to run: --no-sqlite without --postgres-url / RAYMON_BENCH_POSTGRES_URL")
    args.data_root.mkdir(parents=True, exist_ok=True)
    database = f"{args.pg_prefix}{args.size}"
    if args.ingest_cost:
        print("| database   | texts | without index ms | with index ms | ratio | extra us / text |")
        print("|---|---:|---:|---:|---:|---:|")
        for _db, pg in targets:
            print(ingest_cost(pg, args.rounds), flush=True)
    elif args.compare:
        print(
            "| database   | word    |           | index first p50 / p95 | walk first p50 / p95 | walk/index | "
            "index count p50 / p95 | walk count p50 / p95 | walk/index |"
        )
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for _db, pg in targets:
            ensure_data(args.data_root, args.size, pg, database)
            url = (
                sqlite_url_for(args.data_root / f"sqlite-{args.size}") if pg is None else pg.url_of(database)
            )
            for line in compare(url, args.rounds):
                print(line)
    else:
        rows = []
        for db, pg in targets:
            ensure_data(args.data_root, args.size, pg, database)
            if pg is None:
                server = BenchServer(args.data_root / f"sqlite-{args.size}")
            else:
                server = BenchServer(args.data_root / f"pg-server-{args.size}", pg.url_of(database))
            with server:
                for (name, kind), values in run(server, args.rounds).items():
                    rows.append((db, name, kind, percentile(values, 50), percentile(values, 95)))
        print(f"\nText search and tag stats at {args.size:,} traces, ms, {args.rounds} rounds")
        print("| database   | word    | kind  | p50 | p95 | target p95 | met |")
        print("|---|---|---|---:|---:|---:|---|")
        for db, name, kind, p50, p95 in rows:
            target = TARGETS_MS[kind]
            print(
                f"| {db} | {name} | {kind} | {p50:.1f} | {p95:.1f} | < {target:.0f} | {'yes' if p95 < target else 'no'} |"
            )
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end (1/5/15 min): {load} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
