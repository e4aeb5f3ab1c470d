"""The dashboard page of one profile over a week of 1-minute windows: server time and payload.

A real ``raymon server`` (SQLite; PostgreSQL when ``--postgres-url`` or
``RAYMON_BENCH_POSTGRES_URL`` is given) gets a profile of 20 components (17 numeric and one
categorical input, an output and an evaluation, a mean score) and a manifest with its
``profile_reducer`` (1-minute windows, a space of 10 clients). Seven days of windows for the
global slice and the 10 client slices (110,880 windows) are written straight through the
store (``store.reduce.save_windows``, as a reduce pass does) instead of a week of traffic: each
window's contrast rows and summary come from real ``ProfileReducer`` states (a few dozen
distinct ones, cycled, one slice drifting half way), its state and rows are left out of
``reduce_results`` (the dashboard never reads them: that is the point of ``reduce_summaries``).

Then a signed-in client asks for the dashboard page of the whole week, globally and for one
slice, and of the last 24 hours; prints p50/p95 of the answer time, the server process's CPU
time per request (from /proc: on a shared machine the answer time also holds the waits for a
core) and the page's size.
Targets: server time < 300 ms, payload < 1 MB.

    python bench/ui_dashboard.py [--rounds 10] [--days 7] [--postgres-url URL] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import BENCH_PROJECT_ID, BenchServer, postgres_from  # noqa: E402
from raymon import (  # noqa: E402
    ActualComponent,
    EvalComponent,
    InputComponent,
    ModelProfile,
    OutputComponent,
    RaymonAPI,
)
from raymon.profiling import MeanScore  # noqa: E402
from raymon.profiling.extractors.structured import AbsoluteRegressionError, ElementExtractor  # noqa: E402

REF = "bench@1.0.0"
NUMERIC = [f"feature_{i:02d}" for i in range(17)]
CLIENTS = [f"c{i}" for i in range(10)]
TARGET_MS, TARGET_BYTES = 300.0, 1_000_000
MANIFEST = f"""\
project_id: {BENCH_PROJECT_ID}
actions:
  reduce:
    - reducer_type: profile_reducer
      name: {REF}
      reducer_interval_s: 60
slices:
  - space:
      - tag: client
    limit: 10
"""


def build_profile(rng: np.random.Generator) -> ModelProfile:
    frame = pd.DataFrame({f: rng.normal(i, 1 + i / 10, 2000) for i, f in enumerate(NUMERIC)})
    frame["colour"] = rng.choice(["red", "green", "blue", "grey"], 2000)
    profile = ModelProfile(
        name="bench",
        version="1.0.0",
        components=[
            InputComponent(name=f, extractor=ElementExtractor(element=f)) for f in [*NUMERIC, "colour"]
        ]
        + [
            OutputComponent(name="pred", extractor=ElementExtractor(element=0)),
            ActualComponent(name="actual", extractor=ElementExtractor(element=0)),
            EvalComponent(name="abs_error", extractor=AbsoluteRegressionError()),
        ],
        scores=[MeanScore(name="mae", inputs=["abs_error"], preference="low")],
    )
    pred = frame[NUMERIC].sum(axis=1).to_numpy()
    profile.build(
        input=frame[[*NUMERIC, "colour"]],
        output=pred[:, None],
        actual=(pred + rng.normal(0, 3, len(pred)))[:, None],
        silent=True,
    )
    return profile


def window_variants(
    profile: ModelProfile, rng: np.random.Generator, n: int, shift: float
) -> list[tuple[Any, str, int]]:
    """``n`` distinct (rows, summary, n_tags) of windows of 60 values each; ``shift`` moves every feature."""
    from raymon.server.engine.profile_reducer import Accumulator, ProfileReducer, window_summary

    reducer = ProfileReducer(profile)
    out = []
    for _ in range(n):
        acc = Accumulator()
        for i, f in enumerate(NUMERIC):
            for v in rng.normal(i + shift, 1 + i / 10, 60):
                reducer.add_tag(acc, f, "input", float(v))
        for c in rng.choice(["red", "green", "blue", "grey"], 60):
            reducer.add_tag(acc, "colour", "input", str(c))
        for v in rng.normal(0, 3, 60):
            reducer.add_tag(acc, "pred", "output", float(v))
            reducer.add_tag(acc, "abs_error", "eval", abs(float(v)))
        state = reducer.empty()
        state.fold(acc)
        rows = reducer.contrast_rows(state)
        out.append((rows, window_summary(rows, reducer.scores(state)), state.n_tags))
    return out


def write_windows(database_url: str, profile: ModelProfile, days: int) -> int:
    from raymon.server.store import reduce as reduce_store
    from raymon.server.store.db import Database

    rng = np.random.default_rng(0)
    healthy = window_variants(profile, rng, 24, 0.0)
    drifting = window_variants(profile, rng, 12, 2.0)
    database = Database(database_url, pool_size=2)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    n = days * 1440
    slices = ["", *(f"client=={c}" for c in CLIENTS)]
    written = 0
    now = datetime.now(UTC)
    for chunk in range(0, n, 1000):
        writes = []
        for i in range(chunk, min(n, chunk + 1000)):
            at = start + timedelta(minutes=i)
            for s in slices:
                bad = s == "client==c3" and i > n // 2
                _rows, summary, n_tags = (drifting if bad else healthy)[i % (12 if bad else 24)]
                n_alerts = summary.count(",")  # a stand-in count; the page sums it only
                writes.append(
                    reduce_store.WindowWrite(
                        None, s, at, at + timedelta(minutes=1), None, None, n_tags, n_alerts % 7, summary
                    )
                )
        with database.write_session() as session:
            reduce_store.save_windows(session, BENCH_PROJECT_ID, REF, writes, 1, now)
        written += len(writes)
    database.dispose()
    return written


def server_cpu_s(server: BenchServer) -> float:
    """The server process's CPU time so far (user + system, from /proc): what a request costs it,
    whatever else the machine runs (the answer time also holds the waits for a core)."""
    assert server.process is not None
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(database_url: str, rounds: int, days: int, keep: bool, reuse: Path | None = None) -> list[str]:
    data_dir = reuse or Path(tempfile.mkdtemp(prefix="raymon-bench-dash-"))
    server = BenchServer(data_dir, database_url, RAYMON_ENGINE="off")
    lines = []
    with server:
        if reuse is None:
            rng = np.random.default_rng(1)
            profile = build_profile(rng)
            api = RaymonAPI(url=server.url, api_key=server.admin_key)
            assert api.profile_create(BENCH_PROJECT_ID, profile).status_code in (200, 201)
            applied = api.orchestration_apply(BENCH_PROJECT_ID, MANIFEST)
            assert applied.status_code in (200, 201), applied.text
            t0 = time.perf_counter()
            written = write_windows(server.effective_database_url, profile, days)
            lines.append(f"{server.backend}: wrote {written} windows in {time.perf_counter() - t0:.0f} s")
        with httpx.Client(base_url=server.url, timeout=60, headers={"Sec-Fetch-Site": "same-origin"}) as ui:
            login = ui.post(
                "/login", data={"email": "bench@example.com", "password": "bench password, not secret"}
            )
            assert login.status_code == 303, login.text
            end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
            cases = {
                f"{days} d, global": {
                    "begin": (end - timedelta(days=days)).isoformat(),
                    "end": end.isoformat(),
                },
                f"{days} d, client==c3": {
                    "slice": "client==c3",
                    "begin": (end - timedelta(days=days)).isoformat(),
                    "end": end.isoformat(),
                },
                "24 h (default), global": {},
            }
            for name, params in cases.items():
                times, size = [], 0
                cpu_before = 0.0
                for round_no in range(rounds + 1):
                    if round_no == 1:  # the first warms the manifest cache and the database's pages
                        cpu_before = server_cpu_s(server)
                    t = time.perf_counter()
                    page = ui.get(f"/projects/{BENCH_PROJECT_ID}/dashboards/{REF}", params=params)
                    times.append((time.perf_counter() - t) * 1000)
                    assert page.status_code == 200, page.text[:300]
                    assert 'id="dash-data"' in page.text
                    size = len(page.content)
                cpu_ms = (server_cpu_s(server) - cpu_before) * 1000 / rounds
                times = times[1:]
                p50, p95 = statistics.median(times), percentile(times, 0.95)
                ok = "ok" if p95 < TARGET_MS and size < TARGET_BYTES else "OVER TARGET"
                lines.append(
                    f"{server.backend}: {name:<24} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                    f"server CPU {cpu_ms:6.1f} ms/request  payload {size / 1024:6.0f} KiB  {ok}"
                )
        lines += in_process(server.effective_database_url, days, rounds)
    if keep:
        lines.append(f"data kept in {data_dir}")
    return lines


def in_process(database_url: str, days: int, rounds: int) -> list[str]:
    """The baseline in the same run: ``services.dashboards.dashboard`` of the week read from the rollups
    and from the windows' summaries alone (``use_rollups=False``, what the page did before), interleaved."""
    from raymon.server.backend import build_backend
    from raymon.server.services import dashboards
    from raymon.server.settings import Settings
    from raymon.server.store.db import Database

    database = Database(database_url, pool_size=2)
    backend = build_backend(
        Settings(data_dir=Path(tempfile.mkdtemp(prefix="raymon-bench-dash-ip-"))), database=database
    )
    info = dashboards.ReducerInfo(REF, 60)
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    begin = end - timedelta(days=days)
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds + 1):
        for use in (True, False):
            t = time.perf_counter()
            dashboards.dashboard(backend, BENCH_PROJECT_ID, info, "", begin, end, use_rollups=use)
            times[use].append((time.perf_counter() - t) * 1000)
    database.dispose()
    fast, slow = statistics.median(times[True][1:]), statistics.median(times[False][1:])
    return [
        f"in process, {days} d global: rollups p50 {fast:.1f} ms, windows only p50 {slow:.1f} ms "
        f"(ratio {slow / fast:.1f}x)"
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--pg-database", default=None, help="the name of the throwaway PostgreSQL database (default: random)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir and the PostgreSQL database")
    parser.add_argument(
        "--reuse", type=Path, default=None, help="a data dir kept by --keep (SQLite): measure only"
    )
    args = parser.parse_args(argv)
    out = []
    if not args.no_sqlite:
        out += run("", args.rounds, args.days, args.keep, args.reuse)
    postgres = postgres_from(args.postgres_url)
    if postgres is not None:
        url = postgres.create(args.pg_database)
        try:
            out += run(url, args.rounds, args.days, args.keep)
        finally:
            if args.keep:
                out.append(f"PostgreSQL database kept: {url}")
            else:
                postgres.drop(url)
    out.append(f"load average during the run: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    print("\n".join(out))


if __name__ == "__main__":
    main()
