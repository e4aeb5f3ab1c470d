"""Soak: a real server under mixed ingest and queries for a bounded time; does its memory level off?

A real ``raymon server`` process (``bench_server.BenchServer``) on a fresh store
(SQLite; PostgreSQL too when ``--postgres-url`` or ``RAYMON_BENCH_POSTGRES_URL``
is given). For ``--minutes`` (default 10), ``--ingest-clients`` threads POST
batches of ``--batch`` events (new traces each time, three events per trace)
and ``--query-clients`` threads cycle through what a UI and the ``RaymonAPI``
ask: trace pages with and without tag filters, a trace's detail, tag stats,
the object list, an NDJSON export of a ref for a narrow filter. Every answer must be 2xx (a 429 under
overload counts apart; any 5xx fails the run). Every ``--sample-seconds`` the
server's resident memory (``VmRSS`` of its process) is read.

The verdict compares the peak RSS of the last third of the run with the peak
of the middle third: memory that levels off grows little between them
(threshold ``--max-growth``, default 10 %), while a leak grows with the
requests served. The run is bounded in time and in requests
(``--max-requests``) and only talks to 127.0.0.1.

    python bench/soak.py [--minutes 10] [--batch 100] [--ingest-clients 2] [--query-clients 2]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5440/postgres] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import BENCH_PROJECT_ID, BenchServer, postgres_from  # noqa: E402
from ingest_workload import build_events  # noqa: E402

QUERIES = (
    ("traces", {"limit": "100"}),
    ("traces", {"limit": "100", "filter": "client==c3 && app==v7"}),
    ("traces", {"limit": "50", "filter": "latency_ms>400 || status==error"}),
    ("traces", {"limit": "100", "sort": "time"}),
    ("tags", {}),
)


@dataclass
class Tally:
    """What the client threads saw; guarded by ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[str] = field(default_factory=Counter)
    max_requests: int = 10**9
    events_sent: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)

    def count(self, kind: str, response: httpx.Response) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[f"{kind} {response.status_code}"] += 1
            if response.status_code >= 500 and len(self.failures) < 20:
                self.failures.append(f"{kind} {response.status_code}: {response.text[:200]}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def ingest_loop(server: BenchServer, worker: int, batch: int, stop: threading.Event, tally: Tally) -> None:
    seed = 1000 * (worker + 1)
    with server.client() as client:
        while not stop.is_set():
            events = build_events(BENCH_PROJECT_ID, batch, seed=seed)
            seed += 1
            response = client.post(
                f"/api/v1/projects/{BENCH_PROJECT_ID}/ingest",
                content=orjson.dumps(events),
                headers={"Content-Type": "application/json"},
            )
            tally.count("ingest", response)
            if response.status_code == 200:
                with tally.lock:
                    tally.events_sent += batch
            elif response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
            with tally.lock:
                if tally.requests >= tally.max_requests:
                    stop.set()


def query_loop(server: BenchServer, stop: threading.Event, tally: Tally) -> None:
    base = f"/api/v1/projects/{BENCH_PROJECT_ID}"
    round_no = 0
    with server.client() as client:
        while not stop.is_set():
            path, params = QUERIES[round_no % len(QUERIES)]
            response = client.get(f"{base}/{path}", params=params)
            tally.count(path, response)
            if path == "traces" and response.status_code == 200:
                traces = response.json().get("traces", [])
                if traces:
                    trace_id = traces[0]["trace_id"]
                    tally.count("trace", client.get(f"{base}/traces/{trace_id}"))
            if round_no % 10 == 9:
                tally.count("objects", client.get(f"{base}/objects", params={"limit": "20"}))
                export = client.get(
                    f"{base}/export",
                    params={"ref": "request_features", "filter": "client==c3 && app==v7 && region==eu-west"},
                )
                tally.count("export", export)
            round_no += 1
            time.sleep(0.02)  # a UI's pace, not a flood: the ingest threads are the load


def soak(server: BenchServer, args: argparse.Namespace) -> bool:
    assert server.process is not None
    pid = server.process.pid
    stop = threading.Event()
    tally = Tally(max_requests=args.max_requests)
    threads = [
        threading.Thread(target=ingest_loop, args=(server, i, args.batch, stop, tally), daemon=True)
        for i in range(args.ingest_clients)
    ] + [
        threading.Thread(target=query_loop, args=(server, stop, tally), daemon=True)
        for _ in range(args.query_clients)
    ]
    samples: list[tuple[float, float, int, int]] = []  # (seconds, RSS MiB, events sent, requests)
    started = time.monotonic()
    deadline = started + args.minutes * 60
    for thread in threads:
        thread.start()
    try:
        while time.monotonic() < deadline and not stop.is_set():
            with tally.lock:
                sent, requests = tally.events_sent, tally.requests
            samples.append((time.monotonic() - started, rss_mib(pid), sent, requests))
            print(
                f"  {samples[-1][0]:7.0f} s  RSS {samples[-1][1]:7.1f} MiB  events {sent:>9,}  requests {requests:>7,}",
                flush=True,
            )
            stop.wait(args.sample_seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    samples.append((time.monotonic() - started, rss_mib(pid), tally.events_sent, tally.requests))
    third = max(1, len(samples) // 3)
    middle = max(s[1] for s in samples[third : 2 * third] or samples)
    last = max(s[1] for s in samples[2 * third :])
    growth = (last - middle) / middle
    elapsed = samples[-1][0]
    print(
        f"{server.backend}: {elapsed:.0f} s, {tally.events_sent:,} events stored "
        f"({tally.events_sent / elapsed:,.0f}/s), {tally.requests:,} requests; "
        f"RSS start {samples[0][1]:.1f} MiB, peak of middle third {middle:.1f}, of last third {last:.1f} "
        f"({growth:+.1%}); answers: {dict(sorted(tally.statuses.items()))}"
    )
    for failure in tally.failures:
        print(f"  FAILED {failure}")
    levelled = growth <= args.max_growth
    print(
        f"{server.backend}: memory {'levels off' if levelled else 'KEEPS GROWING'} (threshold {args.max_growth:.0%})"
    )
    return levelled and not tally.failures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Soak a real server with mixed ingest and queries.")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=100, help="Events per ingest request (default 100).")
    parser.add_argument("--ingest-clients", type=int, default=2)
    parser.add_argument("--query-clients", type=int, default=2)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="Stop after this many requests.")
    parser.add_argument("--max-growth", type=float, default=0.10)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    postgres = postgres_from(args.postgres_url)
    print(f"load average {os.getloadavg()[0]:.1f}; {args.minutes} min per database")
    ok = True
    targets: list[str] = [] if args.no_sqlite else ["sqlite"]
    if postgres is not None:
        targets.append("postgresql")
    for target in targets:
        data_dir = Path(tempfile.mkdtemp(prefix=f"raymon-soak-{target}-"))
        database_url = postgres.create() if (target == "postgresql" and postgres) else ""
        try:
            with BenchServer(data_dir, database_url) as server:
                ok = soak(server, args) and ok
        finally:
            if database_url and postgres:
                postgres.drop(database_url)
            shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
