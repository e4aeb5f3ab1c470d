"""Mapper latency and the map trigger's cost on ingest, in process, on SQLite (or PostgreSQL with ``--postgres-url``).

- Latency: a "service" thread logs house-price predictions (``rt.Numpy``) at a steady rate, a
  "labeller" thread logs each trace's actual ``--lag-s`` later; a worker thread polls the jobs
  table every ``--poll-s`` (the stand-in for the engine's worker until it lands) and runs
  ``handle_map`` (``profile_eval`` on the house-prices profile). Latency per trace: from the
  moment the ingest call storing its actual returned to the mapper run's commit
  (``mapper_runs.finished_at``). Prints p50, p95 and max. Target: p95 under 2 s on SQLite.
- Trigger cost: the same batches of 100 object events ingested with no manifest and with a
  manifest whose mapper takes the objects' ref (one map job enqueued per object, in the same
  transaction), taken in turns ``--repeat`` times, best of each; prints events/s and the ratio.

    python bench/engine_mappers.py [--traces 600] [--rate 50] [--poll-s 0.05] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, update

import raymon.types as rt
from raymon import ActualComponent, EvalComponent, ModelProfile, OutputComponent
from raymon.profiling.extractors.structured import AbsoluteRegressionError, ElementExtractor
from raymon.server.backend import Backend, build_backend
from raymon.server.engine.jobs import ClaimedJob, RetryLater
from raymon.server.engine.manifest import Actions, Manifest, MapAction
from raymon.server.engine.mappers import handle_map
from raymon.server.services import auth
from raymon.server.services.ingest import ingest_records
from raymon.server.services.profiles import create_profile
from raymon.server.settings import Settings
from raymon.server.store.models import Job, MapperRun, Trace
from raymon.wire import object_event, tags_event

PID = "bench"
HOUSES = Path("/work/shared/data/houseprices/subset-cheap.csv")


class Context:
    def __init__(self, backend: Backend, job: ClaimedJob) -> None:
        self.backend, self.job = backend, job

    def heartbeat(self) -> None:
        pass

    def finishing(self) -> Any:
        backend, job_id = self.backend, self.job.id

        class _Finishing:
            def __enter__(self) -> Any:
                self._cm = backend.writing()
                self.session = self._cm.__enter__()
                return self.session

            def __exit__(self, *exc: Any) -> Any:
                if exc[0] is None:
                    self.session.execute(update(Job).where(Job.id == job_id).values(status="done"))
                return self._cm.__exit__(*exc)

        return _Finishing()


def worker(backend: Backend, stop: threading.Event, poll_s: float) -> None:
    while not stop.is_set():
        with backend.writing() as session:
            rows = session.execute(
                select(Job.id, Job.key, Job.project_id, Job.payload, Job.attempts)
                .where(Job.kind == "map", Job.status == "pending")
                .order_by(Job.id)
                .limit(200)
            ).all()
            if rows:
                session.execute(update(Job).where(Job.id.in_([r.id for r in rows])).values(status="running"))
        if not rows:
            time.sleep(poll_s)
            continue
        for r in rows:
            job = ClaimedJob(
                r.id, "map", r.key, r.project_id, r.payload, r.attempts + 1, "bench", datetime.now(UTC)
            )
            try:
                handle_map(Context(backend, job))
            except RetryLater:
                with backend.writing() as session:
                    session.execute(
                        update(Job).where(Job.id == r.id).values(status="pending", attempts=job.attempt)
                    )


def houses_profile() -> ModelProfile:
    df = pd.read_csv(HOUSES)
    profile = ModelProfile(
        name="houses",
        version="1.0.0",
        components=[
            OutputComponent(name="prediction", extractor=ElementExtractor(element=0)),
            ActualComponent(name="actual", extractor=ElementExtractor(element=0)),
            EvalComponent(name="abs_error", extractor=AbsoluteRegressionError()),
        ],
    )
    pred = (df["GrLivArea"].to_numpy(dtype=float) * 110.0 + 10_000.0)[:, None]
    return profile.build(output=pred, actual=df["SalePrice"].to_numpy()[:, None], silent=True)


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


def latency(work: Path, url: str | None, traces: int, rate: float, lag_s: float, poll_s: float) -> None:
    backend = new_backend(work / "latency", url)
    create_profile(backend, PID, houses_profile().to_jcr())
    backend.current_manifest = lambda b, p: MANIFEST
    stored_at: dict[str, float] = {}
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(backend, stop, poll_s))]

    def service() -> None:
        for i in range(traces):
            ingest_records(
                backend,
                PID,
                [object_event(PID, f"t{i}", "model_prediction", rt.Numpy(np.array([1e5 + i])).to_jcr())],
            )
            time.sleep(1 / rate)

    def labeller() -> None:
        time.sleep(lag_s)
        for i in range(traces):
            ingest_records(
                backend, PID, [object_event(PID, f"t{i}", "actual", rt.Numpy(np.array([1.2e5])).to_jcr())]
            )
            stored_at[f"t{i}"] = time.time()
            time.sleep(1 / rate)

    threads += [threading.Thread(target=service), threading.Thread(target=labeller)]
    for t in threads:
        t.start()
    threads[1].join()
    threads[2].join()
    deadline = time.time() + 30
    while time.time() < deadline:
        with backend.reading() as session:
            done = session.execute(
                select(Trace.trace_id, MapperRun.finished_at).join(Trace, Trace.id == MapperRun.trace_pk)
            ).all()
        if len(done) == traces:
            break
        time.sleep(0.1)
    stop.set()
    threads[0].join()
    lat = sorted(max(0.0, f.timestamp() - stored_at[t]) for t, f in done)
    q = statistics.quantiles(lat, n=100)
    print(
        f"mapper latency over {len(lat)} traces ({rate:g}/s, worker polls every {poll_s:g} s): "
        f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms"
    )
    backend.close()


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
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--lag-s", type=float, default=1.0)
    parser.add_argument("--poll-s", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="a database to use instead of SQLite (emptied per run? no: give a fresh one)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="raymon-bench-mappers-") as tmp:
        latency(Path(tmp), args.postgres_url, args.traces, args.rate, args.lag_s, args.poll_s)
        trigger_cost(Path(tmp), args.postgres_url, args.repeat, args.batches, mixed=False)
        trigger_cost(Path(tmp), args.postgres_url, args.repeat, args.batches, mixed=True)


if __name__ == "__main__":
    main()
