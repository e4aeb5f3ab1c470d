"""Slice analytics' cost: discovery over 1,000,000 traces with 3 tags of 10, 20 and 50 values; ranking 1,000 slices.

On a fresh SQLite store (raymon's migrations), one project with a built profile ``shop@1.0.0``
(an ``abs_error`` evaluation component and its MAE), a manifest reducing it in 6-hour windows
with a ``space`` over tags ``b`` (20 values) and ``c`` (50 values), limit 1,000 (1,000 slices),
and ``settings.explore.tags: [a, b, c]`` (10, 20 and 50 values: 10,000 combinations):

1. load: ``--traces`` traces over 24 hours (4 windows), each with its three label tags and its
   ``abs_error`` (|N(0, 5)|, three times worse where a == a3 and b == b7), through the store's
   writer (``services.ingest.store_events``, batches of 5,000 events; not HTTP);
2. reduce: the reduce job's passes (``reduce_handler`` with the runtime's discovery hook
   ``services.slices.cells_hook``) until every tag is reduced; prints each pass's time and the
   part of it spent in the hook (reading the label tags, folding and upserting the cells);
3. discovery: ``services.slices.find`` (the discover job's work: one roll-up query of the
   lookback's cells, the SliceLine search of up to 3 conditions for each metric), best of
   ``--repeat``; prints cells, slices scored and pruned, and the top finding;
4. ranking: ``services.slices.rank`` of the 1,000 slices of the space on MAE (the window states
   of 4 windows x 1,001 slices read and merged, 1,000 Welch tests, BY), best of ``--repeat``.

    python bench/slices_discovery.py [--traces 1000000] [--repeat 3]

Figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "server"))

from reduce_profiles import reference_profile  # noqa: E402
from sqlalchemy import text  # noqa: E402

from raymon.server.backend import build_backend  # noqa: E402
from raymon.server.engine.manifest import ExploreSettings  # noqa: E402
from raymon.server.engine.profile_reducer import Accumulator  # noqa: E402
from raymon.server.engine.reduce_jobs import reduce_handler, reduce_scheduler  # noqa: E402
from raymon.server.engine.slice_cells import Vocab, fold  # noqa: E402
from raymon.server.services import manifests as manifest_service  # noqa: E402
from raymon.server.services import profiles as profile_service  # noqa: E402
from raymon.server.services import slices as slice_service  # noqa: E402
from raymon.server.services.ingest import store_events  # noqa: E402
from raymon.server.settings import Settings  # noqa: E402
from raymon.server.store import accounts  # noqa: E402
from raymon.server.store import reduce as reduce_store  # noqa: E402
from raymon.server.store import slices as slice_store  # noqa: E402
from raymon.server.store.db import Database  # noqa: E402
from raymon.wire import tags_event  # noqa: E402

PROJECT = "bench"
MANIFEST = """
actions:
  reduce:
    - name: shop@1.0.0
      reducer_type: profile_reducer
      reducer_interval_s: 21600
settings:
  explore:
    tags: [a, b, c]
    min_support: 1000
"""
GROUP = "shop@1.0.0"


class Ctx:
    """The job context the reduce handler needs: one write transaction."""

    def __init__(self, backend: Any, spec: Any) -> None:
        from raymon.server.engine.jobs import ClaimedJob

        self.backend = backend
        self.job = ClaimedJob(
            1,
            spec.kind,
            spec.key,
            spec.project_id,
            dict(spec.payload),
            1,
            "bench",
            datetime.now(UTC) + timedelta(hours=1),
        )

    def heartbeat(self) -> None:
        pass

    def finishing(self) -> Any:
        return self.backend.writing()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--ingest", type=int, default=100_000, help="traces ingested for the hook's cost")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="raymon-bench-slices-"))
    try:
        run(work, args.traces, args.ingest, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, n_traces: int, n_ingest: int, repeat: int) -> None:
    database = Database(f"sqlite:///{work / 'raymon.db'}")
    database.migrate()
    backend = build_backend(Settings(data_dir=work), database=database)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=24)
    with backend.writing() as session:
        accounts.insert_project(session, PROJECT, PROJECT, now)
    profile_service.create_profile(backend, PROJECT, reference_profile().to_jcr())
    manifest_service.apply_manifest(backend, PROJECT, MANIFEST)
    rng = np.random.default_rng(0)

    # 1. the reduce pass's hook on real ingested traffic
    a, b, c, err = traffic(rng, n_ingest)
    t0 = time.perf_counter()
    for lo in range(0, n_ingest, 5000):
        events = []
        for i in range(lo, min(lo + 5000, n_ingest)):
            event = tags_event(
                PROJECT,
                f"t{i}",
                [
                    {"name": "a", "value": f"a{a[i]}", "type": "label"},
                    {"name": "b", "value": f"b{b[i]}", "type": "label"},
                    {"name": "c", "value": f"c{c[i]}", "type": "label"},
                    {"name": "abs_error", "value": float(err[i]), "type": "profile-score", "group": GROUP},
                ],
            )
            event["ts"] = (start + timedelta(seconds=86400 * i / n_ingest)).isoformat()
            events.append(event)
        store_events(backend, PROJECT, events)
    print(f"load: {n_ingest:,} traces in {time.perf_counter() - t0:.1f} s (store_events)")
    hook_s: list[float] = []

    def timed_hook(*hook_args: Any) -> None:
        t = time.perf_counter()
        slice_service.cells_hook(*hook_args)
        hook_s.append(time.perf_counter() - t)

    handler = reduce_handler(manifest_service.current, on_claimed=timed_hook)
    while True:
        with backend.reading() as session:
            left = reduce_store.count_unclaimed(session, PROJECT, GROUP)
        if not left:
            break
        (spec,) = list(reduce_scheduler(manifest_service.current, lambda _b: [PROJECT])(backend, now))
        t = time.perf_counter()
        handler(Ctx(backend, spec))
        total = time.perf_counter() - t
        print(
            f"reduce pass ({min(left, 400_000):,} tags, global slice only): {total:.2f} s, of which the "
            f"discovery cells hook {hook_s[-1]:.2f} s ({hook_s[-1] / total:.0%}; "
            f"{hook_s[-1] / min(left, 400_000) * 1e6:.0f} us per trace)"
        )

    # 2. discovery over the cells of n_traces traces (written with the store's cell writer)
    with backend.writing() as session:
        session.execute(text("DELETE FROM slice_cells"))
    a, b, c, err = traffic(rng, n_traces)
    t0 = time.perf_counter()
    reducer = slice_service.load_reducer(backend, PROJECT, GROUP)
    windows_of = [start + timedelta(hours=6 * (4 * i // n_traces)) for i in range(n_traces)]
    vocab = Vocab()
    labels = [{"a": f"a{x}", "b": f"b{y}", "c": f"c{z}"} for x, y, z in zip(a, b, c, strict=True)]
    explore = ExploreSettings(tags=["a", "b", "c"])
    vocab.admit(labels, explore)
    explored = vocab.explored(explore)
    cells = dict(enumerate(vocab.cells_of(labels, explored)))
    classified = ((i, reducer.classify("abs_error", "profile-score", float(err[i]))) for i in range(n_traces))
    adds = fold(((i, x) for i, x in classified if x is not None), dict(enumerate(windows_of)), cells)
    with backend.writing() as session:
        slice_store.add_cells(session, PROJECT, GROUP, adds)
        slice_store.save_vocab(session, PROJECT, GROUP, vocab.to_jcr(), now)
    print(
        f"cells of {n_traces:,} traces: {len(adds):,} (window, cell) rows, written in {time.perf_counter() - t0:.1f} s"
    )
    best, findings = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        findings = slice_service.find(backend, PROJECT, GROUP, now + timedelta(hours=1))
        best = min(best, time.perf_counter() - t)
    assert findings is not None
    mean = findings["metrics"]["abs_error"]
    top = (
        mean["slices"][0]
        if mean["slices"]
        else {"slicestr": None, "n": 0, "difference": 0.0, "p_adjusted": 1.0}
    )
    print(
        f"discovery pass: {best * 1000:.0f} ms (best of {repeat}; {len(findings['metrics'])} metrics; abs_error: "
        f"{mean['evaluated']:,} slices scored, {mean['pruned']:,} pruned, levels {mean['levels']}); "
        f"top {top['slicestr']} n={top['n']} diff={top['difference']:.2f} p_adj={top['p_adjusted']:.1e}"
    )

    # 3. ranking 1,000 slices (b x c) from window states (4 windows, written with the store's window writer)
    t0 = time.perf_counter()
    accs: dict[tuple[str, datetime], Accumulator] = {}
    for i in range(n_traces):
        for slicestr in ("", f"b==b{b[i]} && c==c{c[i]}"):
            acc = accs.get((slicestr, windows_of[i]))
            if acc is None:
                acc = accs[(slicestr, windows_of[i])] = Accumulator()
            acc.add((False, "abs_error", float(err[i])))
    writes = []
    for (slicestr, at), acc in accs.items():
        state = reducer.empty()
        state.fold(acc)
        writes.append(
            reduce_store.WindowWrite(
                None, slicestr, at, at + timedelta(hours=6), state.to_jcr(), {"rows": []}, state.n_tags, 0
            )
        )
    with backend.writing() as session:
        session.execute(text("DELETE FROM reduce_results"))
        reduce_store.save_windows(session, PROJECT, GROUP, writes, 1, now)
    print(
        f"window states: {len(writes):,} ({len(writes) // 4:,} slices x 4 windows) written in {time.perf_counter() - t0:.1f} s"
    )
    best_rank, ranked = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        ranked = slice_service.rank(backend, PROJECT, GROUP, "MAE", space="b,c")
        best_rank = min(best_rank, time.perf_counter() - t)
    assert ranked is not None
    tested = sum(1 for s in ranked["slices"] if s["status"] == "ok")
    print(
        f"ranking: {len(ranked['slices']):,} slices ({tested:,} tested) in {best_rank * 1000:.0f} ms "
        f"(best of {repeat}); top {ranked['slices'][0]['slice']}"
    )
    backend.close()


def traffic(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tags a, b, c (10, 20, 50 values) and abs_error, four times worse where a == 3 and b == 7."""
    a, b, c = rng.integers(0, 10, n), rng.integers(0, 20, n), rng.integers(0, 50, n)
    return a, b, c, np.abs(rng.normal(0, 5, n)) * np.where((a == 3) & (b == 7), 4.0, 1.0)


if __name__ == "__main__":
    main()
