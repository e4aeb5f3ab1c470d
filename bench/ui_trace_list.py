"""The web UI's trace list page at 1,000,000 traces: server time with two-tag filters, SQLite and PostgreSQL.

The data set is ``server_trace_list.py``'s (made by ``gen_traces.py`` under
``/tmp/raymon-bench/`` or as database ``raymon_bench_<N>``, reused when there):
its ``ensure_data`` makes it if missing. A real ``raymon server`` runs on it; one
client signs in through ``POST /login`` (the bench user) and asks for
``GET /projects/bench/traces?filter=...`` as a browser does:

    page       the whole page (50 traces newest first, tags as chips, the export form)
    next       the next page, by the page's own "Older" cursor
    partial    the results block only, as the filter form's htmx request asks for it
    count      the capped count (``part=count``; htmx loads it after the table)
    search     a text search on top of the filter (data sets made before gen_traces.py
               wrote texts have none: the worst case, the search reads its whole window of
               20,000 candidates; the text search itself: server_search.py)
    api        the baseline: the same 50 traces as JSON from ``GET /api/v1/projects/bench/traces``
               (API key, no session, no HTML), measured in the same rounds

Filters (``server_trace_list.py``'s): ``one_pct`` ``client==c7 && app==v2`` (~1%, the
two-tag filter of the target), ``rare`` ``shard==s42 && client==c7`` (~0.01%),
``most`` ``status==ok && latency_ms<450`` (~85%). Times are measured on the client,
to the last byte, on 127.0.0.1: an upper bound of the server time. Each answer is
checked (200, and every listed trace satisfies the filter for the page kinds).
Target: p95 < 150 ms for ``page`` and ``next`` with the two-tag filter at 1M traces.

    python bench/ui_trace_list.py [--size 1000000] [--rounds 30]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5440/postgres] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import BenchServer, postgres_from  # noqa: E402
from server_trace_list import (  # noqa: E402  (the data set and its helpers, not a copy)
    DATA_ROOT,
    FILTERS,
    ensure_data,
    percentile,
    pg_database,
    sqlite_dir,
)

TARGET_P95_MS = 150.0
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench password, not secret"  # bench_server.py's start-up user
UI_FILTERS = {name: FILTERS[name] for name in ("one_pct", "rare", "most")}
KINDS = ("api", "page", "next", "partial", "count", "search")
_TRACE_ROW = re.compile(r'class="trace-link" href="[^"]*">([^<]+)</a>')
_NEXT = re.compile(r'rel="next" href="([^"]+)"')


def signed_in(server: BenchServer) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=120.0, headers={"Sec-Fetch-Site": "same-origin"})
    response = client.post("/login", data={"email": BENCH_EMAIL, "password": BENCH_PASSWORD, "next": "/"})
    if response.status_code != 303:
        raise RuntimeError(f"signing in failed: {response.status_code} {response.text[:300]}")
    return client


def timed(
    client: httpx.Client, url: str, params: dict[str, Any], headers: dict[str, str]
) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.get(url, params=params, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code} for {url} {params}: {response.text[:300]}")
    return elapsed, response.text


def check(expression: str, body: str, server: BenchServer) -> None:
    """Every trace the page lists satisfies the filter (asked of the API: the page shows no raw values)."""
    from raymon.server.services.tagfilter import evaluate, parse

    ids = _TRACE_ROW.findall(body)
    if not ids:
        raise AssertionError(f"the page for {expression!r} lists no trace")
    tree = parse(expression)
    with server.client() as api:
        for trace_id in ids[:10]:
            tags = api.get(f"/api/v1/projects/{server.project_id}/traces/{trace_id}/tags").json()
            if not evaluate(tree, {t["name"]: t["value"] for t in tags}):
                raise AssertionError(f"{trace_id} does not satisfy {expression!r}: {tags}")


def run(server: BenchServer, rounds: int) -> dict[tuple[str, str], list[float]]:
    url = f"/projects/{server.project_id}/traces"
    times: dict[tuple[str, str], list[float]] = {}
    client = signed_in(server)
    api = server.client()
    api_url = f"/api/v1/projects/{server.project_id}/traces"
    try:
        for name, expression in UI_FILTERS.items():
            for round_no in range(rounds + 2):  # two warm-up rounds
                params = {"filter": expression}
                took = {}
                took["api"], _ = timed(api, api_url, {"filter": expression, "limit": 50}, {})
                took["page"], body = timed(client, url, params, {})
                following = _NEXT.search(body)
                if following is None:
                    raise AssertionError(f"no next page for {expression!r}")
                took["next"], _ = timed(client, html.unescape(following.group(1)), {}, {})
                took["partial"], _ = timed(client, url, params, {"HX-Request": "true"})
                took["count"], counted = timed(
                    client, url, {**params, "part": "count"}, {"HX-Request": "true"}
                )
                took["search"], _ = timed(client, url, {**params, "text": "timeout"}, {"HX-Request": "true"})
                if round_no == 2:
                    check(expression, body, server)
                    print(f"  {name}: count says {re.sub(r'<[^>]+>', '', counted).strip()}", file=sys.stderr)
                if round_no >= 2:
                    for kind, ms in took.items():
                        times.setdefault((name, kind), []).append(ms)
    finally:
        client.close()
        api.close()
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="The trace list page's server time (see the module docstring)."
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="Traces in the data set (default 1M).")
    parser.add_argument(
        "--rounds", type=int, default=30, help="Timed rounds per filter (after 2 warm-up rounds)."
    )
    parser.add_argument(
        "--postgres-url", help="PostgreSQL server to also run on (or env RAYMON_BENCH_POSTGRES_URL)."
    )
    parser.add_argument("--no-sqlite", action="store_true", help="Skip SQLite.")
    args = parser.parse_args(argv)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    postgres = postgres_from(args.postgres_url)
    targets = [] if args.no_sqlite else [("SQLite", None)]
    if postgres is not None:
        targets.append(("PostgreSQL", postgres))
    else:
        print("PostgreSQL skipped: give --postgres-url or RAYMON_BENCH_POSTGRES_URL", file=sys.stderr)
    results = []
    for db, pg in targets:
        ensure_data(args.size, pg)
        if pg is None:
            server = BenchServer(sqlite_dir(args.size))
        else:
            server = BenchServer(DATA_ROOT / f"pg-server-{args.size}", pg.url_of(pg_database(args.size)))
        with server:
            print(f"{db}, {args.size:,} traces", file=sys.stderr)
            results.append((db, run(server, args.rounds)))
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end (1/5/15 min): {load} on {os.cpu_count()} cores")
    print(f"\nTrace list page, {args.size:,} traces, ms (p50 / p95), {args.rounds} rounds")
    print("| database | filter | " + " | ".join(KINDS) + " |")
    print("|---|---|" + "---:|" * len(KINDS))
    misses = []
    for db, times in results:
        for name in UI_FILTERS:
            cells = []
            for kind in KINDS:
                values = times[(name, kind)]
                p50, p95 = percentile(values, 50), percentile(values, 95)
                cells.append(f"{p50:.0f} / {p95:.0f}")
                if name == "one_pct" and kind in ("page", "next") and p95 >= TARGET_P95_MS:
                    misses.append(f"{db} {kind} p95 {p95:.0f} ms")
            print(f"| {db} | {name} | " + " | ".join(cells) + " |")
    print(
        f"\nTarget p95 < {TARGET_P95_MS:.0f} ms (page, next; two-tag filter): " + ("; ".join(misses) or "met")
    )


if __name__ == "__main__":
    main()
