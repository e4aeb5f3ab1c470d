"""Ingest throughput with the engine running (mappers and reducers active) against without it.

A real ``raymon server`` process (``bench_server.BenchServer``; SQLite, and PostgreSQL when
``--postgres-url`` or ``RAYMON_BENCH_POSTGRES_URL`` is given) ingests the house-prices
walkthrough's traffic (``raymon.server.demo.story``, what ``raymon server --demo`` replays): per trace the pricing service's
client/app labels, the request (``rt.DataFrame``), its validation tags, the prediction and its
tags (5 events), and the labelling service's actual and its tags (2 events) two requests
later, in requests of ``--traces-per-request`` traces' service events plus older traces'
actuals (about 490 events). Two configurations, on fresh stores, taken in turns
``--repeat`` times; the best run of each counts:

- ``engine off``: ``RAYMON_ENGINE=off``, the profile uploaded, no manifest (no map trigger,
  no reduce passes... the ingest path (it still queues the grouped tags) as without the engine);
- ``engine on``: ``RAYMON_ENGINE=on`` (the in-process worker), the walkthrough's manifest
  applied (a ``profile_eval`` mapper whose inputs, the prediction and the actual, are logged:
  one map job per request since the batches of round 2; a ``profile_reducer`` in 10-minute windows over the global slice
  and 3 client slices), ``RAYMON_REDUCE_PASS_SECONDS`` small (default 1 s): the worker runs
  map jobs and reduce passes while the traffic comes in;
- with ``--no-defer``, ``engine on, no defer``: the same with ``RAYMON_ENGINE_WRITE_DEFER_SECONDS=0``
  (on SQLite the engine's writes take turns with requests instead of yielding to them);
- with ``--worker-process``, ``engine in worker``: the server with ``RAYMON_ENGINE=off`` and the
  manifest applied, and ``--worker-process`` ``raymon worker`` processes beside it (the
  PostgreSQL deployment), each with ``--nice`` ``--worker-nice`` (default 10), started before
  the warm-up and stopped after the drain.

``--clients`` threads POST pre-serialised bodies; events/s is wall time from the first request
to the last answer (every answer must accept all its events). Prints events/s of each, the
ratio on / off (target at least 0.85), what the engine had done by the end of the ingest (map
runs, reduced tags) and, with ``--drain``, how long it took to catch up afterwards.

    python bench/engine_ingest.py [--traces 6000] [--traces-per-request 70] [--clients 2]
        [--repeat 3] [--reduce-pass-seconds 1] [--drain 120] [--postgres-url ...] [--no-sqlite]
        [--trigger-only] [--no-defer] [--worker-process N] [--worker-nice 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_server import BENCH_PROJECT_ID, BenchServer, PostgresServer, postgres_from  # noqa: E402
from raymon import RaymonAPI  # noqa: E402
from raymon.server.demo import story  # noqa: E402

WORK_DIR = Path(tempfile.gettempdir()) / "raymon-bench"


@dataclass
class Traffic:
    bodies: list[tuple[bytes, int]]
    n_events: int
    n_traces: int
    profile: Any
    warm_up: bytes  # a few other traces, prediction and actual, sent (untimed) before the traffic
    warm_up_events: int


def make_traffic(traces: int, per_request: int, lag_requests: int) -> Traffic:
    """The walkthrough's events, as request bodies: service events of new traces plus actuals of older ones."""
    data = story.houses()
    model = story.Model.fit(data)
    profile = story.build_profile(data, model)
    per_window = 3 * 45
    windows = max(1, -(-traces // per_window))
    now = datetime.now(UTC)
    start = (now - timedelta(minutes=10 * windows)).replace(second=0, microsecond=0)
    service = list(
        story.service_traffic(
            BENCH_PROJECT_ID, profile, model, start, windows, 45, broken_from=max(1, windows // 2)
        )
    )[:traces]
    labels = [
        story.labelling_events(BENCH_PROJECT_ID, profile, trace_id, price, start + timedelta(hours=2))
        for trace_id, price, _ in service
    ]
    chunks = [list(range(i, min(i + per_request, traces))) for i in range(0, traces, per_request)]
    bodies = []
    for k in range(len(chunks) + lag_requests):
        events: list[dict[str, Any]] = []
        if k < len(chunks):
            events += [e for i in chunks[k] for e in service[i][2]]
        if k >= lag_requests:
            events += [e for i in chunks[k - lag_requests] for e in labels[i]]
        bodies.append((orjson.dumps(events), len(events)))
    warm = [
        e
        for trace_id, price, events in story.service_traffic(
            BENCH_PROJECT_ID, profile, model, start, 1, 3, broken_from=1, seed=1
        )
        for e in [*events, *story.labelling_events(BENCH_PROJECT_ID, profile, trace_id, price, start)]
    ]
    for event in warm:
        event["trace_id"] = "warm-up-" + event["trace_id"]
    return Traffic(bodies, sum(n for _, n in bodies), traces, profile, orjson.dumps(warm), len(warm))


def post_all(server: BenchServer, bodies: list[tuple[bytes, int]], clients: int) -> float:
    """Seconds to send every body with ``clients`` threads (bodies taken in order)."""
    work: queue.Queue[tuple[bytes, int]] = queue.Queue()
    for item in bodies:
        work.put(item)
    errors: list[str] = []
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
    return elapsed


ENGINE_STATE = {
    "events": "SELECT count(*) FROM events",
    "map runs": "SELECT count(*) FROM mapper_runs",
    "jobs waiting": "SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')",
    "reduced tags": "SELECT (SELECT count(*) FROM tags WHERE grp IS NOT NULL) - (SELECT count(*) FROM reduce_queue)",
}


def engine_state(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {name: int(conn.execute(text(sql)).scalar_one()) for name, sql in ENGINE_STATE.items()}
    finally:
        engine.dispose()


@dataclass
class Run:
    config: str
    seconds: float
    state: dict[str, int]
    drain_s: float | None = None


NO_DEFER = "engine on, no defer"
IN_WORKER = "engine in worker"


class WorkerProcesses:
    """``raymon worker`` processes on the server's database, stopped (SIGTERM) on exit."""

    def __init__(self, server: BenchServer, count: int, niceness: int, env: dict[str, str]) -> None:
        self.server, self.count, self.niceness, self.env = server, count, niceness, env
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> WorkerProcesses:
        env = self.server.environment()
        env.update(self.env)
        env["RAYMON_ENGINE"] = "on"
        log = (self.server.data_dir / "worker.log").open("ab")
        command = [sys.executable, "-m", "raymon.cli", "worker", "--data-dir", str(self.server.data_dir)]
        command += ["--nice", str(self.niceness)]
        self.processes = [
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            for _ in range(self.count)
        ]
        log.close()
        return self

    def __exit__(self, *_exc: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def one_run(
    config: str, work: Path, postgres: PostgresServer | None, traffic: Traffic, args: argparse.Namespace
) -> Run:
    in_worker = config == IN_WORKER
    engine_on = config.startswith("engine on") or in_worker
    manifest = config != "engine off"
    env = {"RAYMON_ENGINE": "on" if engine_on and not in_worker else "off"}
    engine_env: dict[str, str] = {}
    if config == NO_DEFER:
        env["RAYMON_ENGINE_WRITE_DEFER_SECONDS"] = "0"
    if engine_on:
        engine_env["RAYMON_REDUCE_PASS_SECONDS"] = str(args.reduce_pass_seconds)
        if args.worker_poll_seconds:
            engine_env["RAYMON_WORKER_POLL_SECONDS"] = str(args.worker_poll_seconds)
        if args.worker_concurrency:
            engine_env["RAYMON_WORKER_CONCURRENCY"] = str(args.worker_concurrency)
    if not in_worker:
        env.update(engine_env)
    database_url = postgres.create() if postgres else ""
    try:
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(BenchServer(work, database_url, **env))
            if in_worker:
                stack.enter_context(
                    WorkerProcesses(server, args.worker_process, args.worker_nice, engine_env)
                )
            api = RaymonAPI(url=server.url, api_key=server.admin_key)
            created = api.profile_create(server.project_id, traffic.profile)
            assert created.status_code in (200, 201), created.text
            if manifest:
                applied = api.orchestration_apply(
                    server.project_id, story.MANIFEST.format(project_id=server.project_id)
                )
                assert applied.status_code in (200, 201), applied.text
            with server.client() as client:  # warm up the key lookup and the connection pool
                client.get(f"/api/v1/projects/{server.project_id}/traces", params={"limit": 1})
            # Warm up (untimed): the same few traces on both; with the engine, until their map runs
            # are stored (the first run imports the profile code and loads the profile: once per process).
            post_all(server, [(traffic.warm_up, traffic.warm_up_events)], 1)
            deadline = time.monotonic() + 60
            while engine_on and engine_state(server.effective_database_url)["map runs"] < 9:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the engine ran no mapper on the warm-up traces:\n{server.log()[-2000:]}"
                    )
                time.sleep(0.2)
            warm_runs = engine_state(server.effective_database_url)["map runs"]
            seconds = post_all(server, traffic.bodies, args.clients)
            state = engine_state(server.effective_database_url)
            state["map runs"] -= warm_runs
            state["events"] -= traffic.warm_up_events
            if state["events"] != traffic.n_events:
                raise RuntimeError(f"the store holds {state['events']} events, {traffic.n_events} were sent")
            drain_s = None
            if engine_on and args.drain > 0:
                started = time.perf_counter()
                while time.perf_counter() - started < args.drain:
                    now = engine_state(server.effective_database_url)
                    if now["map runs"] - warm_runs >= traffic.n_traces and now["jobs waiting"] == 0:
                        drain_s = time.perf_counter() - started
                        break
                    time.sleep(0.5)
    finally:
        if postgres is not None and database_url:
            postgres.drop(database_url)
    return Run(config, seconds, state, drain_s)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=6000)
    parser.add_argument("--traces-per-request", type=int, default=70)
    parser.add_argument("--lag-requests", type=int, default=2, help="actuals come this many requests later")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reduce-pass-seconds", type=float, default=1.0)
    parser.add_argument("--worker-poll-seconds", type=float, default=0.0, help="0: the server's default")
    parser.add_argument("--worker-concurrency", type=int, default=0, help="0: the server's default")
    parser.add_argument("--drain", type=float, default=0.0, help="wait up to this many s for the engine")
    parser.add_argument(
        "--worker-process",
        type=int,
        default=0,
        help="also run the engine in this many `raymon worker` processes beside a server without it",
    )
    parser.add_argument("--worker-nice", type=int, default=10, help="the worker processes' --nice")
    parser.add_argument(
        "--postgres-url", help="PostgreSQL server to also run on (or RAYMON_BENCH_POSTGRES_URL)"
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--trigger-only",
        action="store_true",
        help="also run the manifest applied with RAYMON_ENGINE=off (the map trigger's cost alone)",
    )
    parser.add_argument(
        "--no-defer",
        action="store_true",
        help="also run the engine with RAYMON_ENGINE_WRITE_DEFER_SECONDS=0 (its writes not yielding to requests)",
    )
    args = parser.parse_args(argv)
    configs = ["engine off", "engine on"] + (["trigger only"] if args.trigger_only else [])
    configs += [NO_DEFER] if args.no_defer else []
    configs += [IN_WORKER] if args.worker_process else []

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    postgres = postgres_from(args.postgres_url)
    targets: list[tuple[str, PostgresServer | None]] = [] if args.no_sqlite else [("sqlite", None)]
    if postgres is not None:
        targets.append(("postgresql", postgres))
    else:
        say("PostgreSQL skipped: give --postgres-url or RAYMON_BENCH_POSTGRES_URL to run it too")
    say(f"making {args.traces} traces of walkthrough traffic")
    traffic = make_traffic(args.traces, args.traces_per_request, args.lag_requests)
    say(f"{traffic.n_events} events in {len(traffic.bodies)} requests")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    lines = []
    for db, pg in targets:
        runs: dict[str, list[Run]] = {config: [] for config in configs}
        work = Path(tempfile.mkdtemp(prefix="engine-ingest-", dir=WORK_DIR))
        try:
            for r in range(args.repeat):
                order = list(runs) if r % 2 == 0 else list(reversed(runs))
                for config in order:
                    load = os.getloadavg()[0]
                    run = one_run(config, work / f"{config.replace(' ', '-')}-{r}", pg, traffic, args)
                    runs[config].append(run)
                    rate = traffic.n_events / run.seconds
                    drained = "" if run.drain_s is None else f", engine caught up {run.drain_s:.1f} s later"
                    say(
                        f"{db} run {r + 1}, {config}: {rate:,.0f} events/s ({run.seconds:.1f} s, load {load:.1f}); "
                        f"at the end {run.state}{drained}"
                    )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        best = {config: traffic.n_events / min(r.seconds for r in rs) for config, rs in runs.items()}
        median = {
            config: traffic.n_events / sorted(r.seconds for r in rs)[len(rs) // 2]
            for config, rs in runs.items()
        }
        for config in configs[2:]:
            lines.append(
                f"{db}: {config} {best[config]:,.0f} ev/s, ratio to engine off "
                f"{best[config] / best['engine off']:.2f} (best runs)"
            )
        lines.insert(
            len(lines) - len(configs[2:]),
            f"{db}: engine off {best['engine off']:,.0f} ev/s, engine on {best['engine on']:,.0f} ev/s, "
            f"ratio {best['engine on'] / best['engine off']:.2f} (best runs); medians "
            f"{median['engine off']:,.0f} / {median['engine on']:,.0f}, ratio "
            f"{median['engine on'] / median['engine off']:.2f}",
        )
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end (1/5/15 min): {load} on {os.cpu_count()} cores")
    print(
        f"Ingest of {traffic.n_events} walkthrough events ({args.traces} traces), {args.clients} clients, "
        f"engine on / off (target >= 0.85):"
    )
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
