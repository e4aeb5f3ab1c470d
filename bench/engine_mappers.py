"""Mapper latency against a real server's engine, and the map trigger's cost on ingest.

- Latency: a real ``raymon server`` (``bench_server.BenchServer``; SQLite, or PostgreSQL with
  ``--postgres-url`` / ``RAYMON_BENCH_POSTGRES_URL``) with its in-process engine
  (``RAYMON_ENGINE=on``), the house-prices walkthrough's profile and manifest applied
  (``raymon.server.demo.story``: a ``profile_eval`` mapper on the prediction and the
  actual, a ``profile_reducer`` with client slices, passes every ``--reduce-pass-s``). A
  "pricing service" thread posts one trace's service events (labels, request, validation tags,
  prediction) per request at ``--rate`` traces/s; a "labelling service" thread posts each
  trace's actual and its tags ``--lag-s`` later. Latency per trace: from the answer to the
  request that stored its actual to the moment a watcher (reading the database every
  ``--probe-s``) first sees the trace's ``mapper_runs`` row, which commits with the eval tags.
  Prints p50, p95 and max. Target: p95 under 2 s on SQLite.
- Trigger cost (in process, SQLite): the same batches of 100 object events ingested with no
  manifest and with a manifest whose mapper takes the objects' ref (one map job enqueued per
  object, in the same transaction), in turns ``--repeat`` times, best of each; events/s and ratio.

    python bench/engine_mappers.py [--traces 600] [--rate 20] [--lag-s 1] [--poll-s 0 (server default)]
        [--reduce-pass-s 5] [--repeat 5] [--no-trigger-cost]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import create_engine, text

import raymon.types as rt
from raymon import RaymonAPI
from raymon.server.backend import Backend, build_backend
from raymon.server.engine.manifest import Actions, Manifest, MapAction
from raymon.server.services import auth
from raymon.server.services.ingest import ingest_records
from raymon.server.settings import Settings
from raymon.wire import object_event, tags_event

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_server import BENCH_PROJECT_ID, BenchServer, PostgresServer, postgres_from  # noqa: E402
from raymon.server.demo import story  # noqa: E402

PID = BENCH_PROJECT_ID
HOUSES = Path("/work/shared/data/houseprices/subset-cheap.csv")


MANIFEST = Manifest(
    project_id=PID,
    actions=Actions(
        map=[
            MapAction(
                name="profile_eval",
                mapper_type="profile_eval",
                profile="houses@1.0.0",
                inputs={"output": "model_prediction", "actual": "actual"},
            )
        ]
    ),
)


def new_backend(work: Path, url: str | None) -> Backend:
    backend = build_backend(Settings(data_dir=work, database_url=url or ""))
    backend.database.migrate()
    with backend.writing() as session:
        auth.create_project(session, PID, PID)
    return backend


def latency(
    postgres: PostgresServer | None,
    work: Path,
    traces: int,
    rate: float,
    lag_s: float,
    poll_s: float | None,
    reduce_pass_s: float,
    probe_s: float,
) -> None:
    """Mapper latency against a real ``raymon server`` with its in-process engine (RAYMON_ENGINE=on)."""
    data = story.houses()
    model = story.Model.fit(data)
    profile = story.build_profile(data, model)
    per_window = 3 * 45
    windows = max(1, -(-traces // per_window))
    start = (datetime.now(UTC) - timedelta(minutes=10 * windows)).replace(second=0, microsecond=0)
    service = list(story.service_traffic(PID, profile, model, start, windows, 45, broken_from=windows))[
        :traces
    ]
    labels = {
        trace_id: orjson.dumps(
            story.labelling_events(PID, profile, trace_id, price, start + timedelta(hours=2))
        )
        for trace_id, price, _ in service
    }
    env = {"RAYMON_ENGINE": "on", "RAYMON_REDUCE_PASS_SECONDS": str(reduce_pass_s)}
    if poll_s:
        env["RAYMON_WORKER_POLL_SECONDS"] = str(poll_s)
    database_url = postgres.create() if postgres else ""
    stored_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    errors: list[str] = []
    try:
        with BenchServer(work, database_url, **env) as server:
            api = RaymonAPI(url=server.url, api_key=server.admin_key)
            assert api.profile_create(PID, profile).status_code in (200, 201)
            applied = api.orchestration_apply(PID, story.MANIFEST.format(project_id=PID))
            assert applied.status_code in (200, 201), applied.text
            path = f"/api/v1/projects/{PID}/ingest"
            headers = {"Content-Type": "application/json"}
            done = threading.Event()

            def post(client: Any, body: bytes) -> None:
                response = client.post(path, content=body, headers=headers)
                if response.status_code != 200 or response.json().get("rejected"):
                    errors.append(f"{response.status_code}: {response.text[:300]}")

            def pricing_service() -> None:  # one request per trace, at ``rate`` traces/s
                with server.client() as client:
                    t0 = time.monotonic()
                    for i, (_, _, events) in enumerate(service):
                        time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
                        post(client, orjson.dumps(events))

            def labeller() -> None:  # each trace's actual ``lag_s`` after its prediction
                with server.client() as client:
                    t0 = time.monotonic() + lag_s
                    for i, (trace_id, _, _) in enumerate(service):
                        time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
                        post(client, labels[trace_id])
                        stored_at[trace_id] = time.monotonic()

            engine = create_engine(server.effective_database_url)
            query = text("SELECT t.trace_id FROM mapper_runs m JOIN traces t ON t.id = m.trace_pk")

            def watcher() -> None:  # the eval tags commit with their mapper_runs row
                with engine.connect() as conn:
                    while not done.is_set():
                        conn.rollback()
                        now = time.monotonic()
                        for (trace_id,) in conn.execute(query):
                            seen_at.setdefault(trace_id, now)
                        if len(seen_at) >= traces:
                            return
                        time.sleep(probe_s)

            threads = [threading.Thread(target=f) for f in (pricing_service, labeller, watcher)]
            for thread in threads:
                thread.start()
            threads[0].join()
            threads[1].join()
            threads[2].join(timeout=60)
            done.set()
            threads[2].join()
            engine.dispose()
            if errors:
                raise RuntimeError(f"ingest failed ({len(errors)} requests), first: {errors[0]}")
    finally:
        if postgres is not None and database_url:
            postgres.drop(database_url)
    lat = sorted(max(0.0, seen_at[t] - stored_at[t]) for t in stored_at if t in seen_at)
    missing = traces - len(lat)
    q = statistics.quantiles(lat, n=100)
    print(
        f"{server.backend}: mapper latency over {len(lat)} traces ({rate:g} traces/s, actual {lag_s:g} s later, "
        f"worker poll {poll_s or 'default'} s, reduce pass every {reduce_pass_s:g} s): p50 {q[49] * 1000:.0f} ms, "
        f"p95 {q[94] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms"
        + (f"; {missing} traces without eval tags after 60 s" if missing else "")
        + f" (load {' / '.join(f'{x:.1f}' for x in os.getloadavg())})"
    )


TEN_TAGS = [{"name": f"feature_{k}", "value": float(k), "type": "metric", "group": None} for k in range(10)]


def trigger_cost(work: Path, url: str | None, repeat: int, batches: int, mixed: bool) -> None:
    best: dict[str, float] = {}
    for r in range(repeat):
        for name, manifest in (("no mappers", None), ("mapper on every object", MANIFEST)):
            backend = new_backend(work / f"cost-{mixed}-{r}-{name.replace(' ', '_')}", url)
            backend.current_manifest = lambda b, p, m=manifest: m
            data = [
                [
                    event
                    for i in range(50 if mixed else 100)
                    for event in (
                        object_event(
                            PID, f"t{b}-{i}", "model_prediction", rt.Numpy(np.array([1.0 * i])).to_jcr()
                        ),
                        *([tags_event(PID, f"t{b}-{i}", TEN_TAGS)] if mixed else []),
                    )
                ]
                for b in range(batches)
            ]
            start = time.perf_counter()
            for batch in data:
                ingest_records(backend, PID, batch)
            rate = batches * 100 / (time.perf_counter() - start)
            best[name] = max(best.get(name, 0.0), rate)
            backend.close()
    base = best["no mappers"]
    for name, rate in best.items():
        what = "50 objects + 50 tag events (10 tags each)" if mixed else "100 objects"
        print(f"ingest, {what} per batch, {name}: {rate:,.0f} events/s ({rate / base:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=600)
    parser.add_argument("--rate", type=float, default=20.0, help="traces per second")
    parser.add_argument("--lag-s", type=float, default=1.0, help="the actual comes this much later")
    parser.add_argument("--poll-s", type=float, default=0.0, help="RAYMON_WORKER_POLL_SECONDS (0: default)")
    parser.add_argument("--reduce-pass-s", type=float, default=5.0, help="RAYMON_REDUCE_PASS_SECONDS")
    parser.add_argument("--probe-s", type=float, default=0.02, help="how often the watcher reads")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--no-trigger-cost", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--postgres-url", help="PostgreSQL server to also run on (or RAYMON_BENCH_POSTGRES_URL)"
    )
    args = parser.parse_args()
    postgres = postgres_from(args.postgres_url)
    targets: list[PostgresServer | None] = [] if args.no_sqlite else [None]
    if postgres is not None:
        targets.append(postgres)
    with tempfile.TemporaryDirectory(prefix="raymon-bench-mappers-") as tmp:
        for n, pg in enumerate(targets):
            latency(
                pg,
                Path(tmp) / f"latency-{n}",
                args.traces,
                args.rate,
                args.lag_s,
                args.poll_s,
                args.reduce_pass_s,
                args.probe_s,
            )
        if not args.no_trigger_cost:
            trigger_cost(Path(tmp), None, args.repeat, args.batches, mixed=False)
            trigger_cost(Path(tmp), None, args.repeat, args.batches, mixed=True)


if __name__ == "__main__":
    main()
