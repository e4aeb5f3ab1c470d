"""Drift per slice: the engine's reduce pass + contrast against Evidently's data drift preset run per slice.

The same data for both: a reference frame of ``--reference`` rows of 20 columns (7 FLOAT, 7
INT, 6 CAT: ``engine_reduce.py``'s components) and ``--rows`` production rows split into 10
slices by a ``client`` label (``c0`` .. ``c9``, one row in ten each); the first ``--drifted``
clients' rows are shifted on three columns (``x00`` FLOAT by half a standard deviation,
``x07`` INT by 3, ``x14`` CAT towards ``a``), the others are not.

- raymon: the reference profile built from the reference frame and stored; the production rows
  validated into tags (``validate_input``) and ingested through ``services.ingest.store_events``
  (untimed: that is ingest's cost, paid once per trace whatever the monitoring); a manifest
  reducing the profile over one window holding every trace, the global slice plus a ``space``
  on ``client``. Timed: ``engine.reduce_jobs.run_pass`` (claim the tags, assign slices and
  windows, fold into the 11 states, contrast each with the reference, store states and
  results) in one write transaction, undone between repeats; the verdicts are read back from
  the stored results (a component drifts when one of its drift rows alerts).
- Evidently 0.7 in its own venv (``anchor_venv.py``, as ``profile_contrast.py``): for each
  of the 10 slices, ``Report([DataDriftPreset()]).run(current=slice frame, reference=frame)``
  plus ``snapshot.dict()``, from Parquet files (reading excluded from the time).

Prints both times (best of ``--repeat``), the speed-up (target at least 20x) and whether the
verdicts (drifted or not, per component per slice) are the same. Our pass also contrasts the
global slice, which Evidently is not asked for.

    python bench/engine_vs_evidently.py [--rows 100000] [--reference 20000] [--drifted 3] [--repeat 3]
        [--no-evidently]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from anchor_venv import AnchorUnavailable, anchor_python, run_timed  # noqa: E402
from engine_reduce import (  # noqa: E402
    BASE_TS,
    CLIENTS,
    GROUP,
    KINDS,
    NAMES,
    PHASES,
    PROJECT,
    WORK_DIR,
    _columns,
    _instrument,
)
from profile_contrast import EVIDENTLY_REQUIREMENTS  # noqa: E402
from raymon import InputComponent, ModelProfile  # noqa: E402
from raymon.profiling.extractors.structured import ElementExtractor  # noqa: E402

DATA_DIR = Path(__file__).resolve().parent / ".data"
WINDOW_S = 10 * 86_400  # one window holds every trace (one a second from BASE_TS)
SHIFTED = ("x00", "x07", "x14")

EVIDENTLY_SCRIPT = """
import json, time
import pandas as pd
import evidently
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.read_parquet({ref!r})
cur = pd.read_parquet({cur!r})
slices = {{c: f.drop(columns=["client"]).reset_index(drop=True) for c, f in cur.groupby("client")}}
times, flagged = [], {{}}
for _ in range({repeat}):
    t = time.perf_counter()
    results = {{c: Report([DataDriftPreset()]).run(current_data=f, reference_data=ref).dict() for c, f in slices.items()}}
    times.append(time.perf_counter() - t)
methods = set()
for c, result in results.items():
    flagged[c] = []
    for metric in result["metrics"]:
        config = metric.get("config", {{}})
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        value, threshold, method = metric["value"], config["threshold"], config["method"]
        methods.add(method)
        is_pvalue = "p_value" in method.lower() or "test" in method.lower()
        if (value < threshold) if is_pvalue else (value >= threshold):
            flagged[c].append(config["column"])
print(json.dumps({{"seconds": min(times), "runs": times, "version": evidently.__version__,
                  "flagged": {{c: sorted(v) for c, v in flagged.items()}}, "methods": sorted(methods)}}))
"""


def frames(n_reference: int, n_rows: int, n_drifted: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference frame and the production frame (with its ``client`` column), deterministic."""
    reference = pd.DataFrame(_columns(np.random.default_rng(0), n_reference))
    current = pd.DataFrame(_columns(np.random.default_rng(2), n_rows))
    clients = np.array(CLIENTS)[np.arange(n_rows) % len(CLIENTS)]
    drifted = np.isin(clients, CLIENTS[:n_drifted])
    current.loc[drifted, "x00"] = current.loc[drifted, "x00"] + 1.0  # the FLOATs are N(10, 2)
    current.loc[drifted, "x07"] = current.loc[drifted, "x07"] + 3
    rng = np.random.default_rng(3)
    towards_a = drifted & (rng.random(n_rows) < 0.5)
    current.loc[towards_a, "x14"] = "a"
    current["client"] = clients
    return reference, current


def _components() -> list[InputComponent]:
    return [
        InputComponent(name=n, extractor=ElementExtractor(element=n), dtype=k)
        for n, k in zip(NAMES, KINDS, strict=True)
    ]


def reference_profile(reference: pd.DataFrame) -> ModelProfile:
    return ModelProfile("bench", "1.0.0", components=_components()).build(input=reference, silent=True)


MANIFEST_YAML = f"""
project_id: {PROJECT}
actions:
  reduce:
    - name: "{GROUP}"
      reducer_type: profile_reducer
      reducer_interval_s: {WINDOW_S}
slices:
  - space:
      - tag: client
    limit: 10
"""

UNDO = (
    "DELETE FROM reduce_queue",  # every grouped tag queued again, as ingest left them
    "INSERT INTO reduce_queue (project_id, grp, tag_id) SELECT project_id, grp, id FROM tags WHERE grp IS NOT NULL",
    "DELETE FROM reduce_summaries",
    "DELETE FROM reduce_results",
    "DELETE FROM reducer_states",
    "DELETE FROM slice_cells",
    "DELETE FROM slice_explore",
    "DELETE FROM issue_history",
    "DELETE FROM issues",
)


def raymon_store(profile: ModelProfile, current: pd.DataFrame, reuse: bool = False) -> Any:
    """A fresh SQLite store with the profile and the production rows ingested as tags (untimed)."""
    from sqlalchemy import text

    from raymon.server.backend import build_backend
    from raymon.server.services import auth
    from raymon.server.services.ingest import store_events
    from raymon.server.services.manifests import apply_manifest
    from raymon.server.services.profiles import create_profile
    from raymon.server.settings import Settings
    from raymon.server.store.db import Database, sqlite_url
    from raymon.wire import tags_event

    data = WORK_DIR / "vs-evidently"  # --reuse: the same --rows as the run that made it
    if reuse and (data / "raymon.sqlite3").exists():  # a previous run's store: its passes undone
        database = Database(sqlite_url(data / "raymon.sqlite3"))
        with database.connect() as conn:
            for sql in UNDO:
                conn.execute(text(sql))
        return build_backend(Settings(data_dir=data), database=database)
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    database = Database(sqlite_url(data / "raymon.sqlite3"))
    backend = build_backend(Settings(data_dir=data), database=database)
    database.migrate()
    with backend.writing() as session:
        auth.ensure_project(session, PROJECT, "bench")
    create_profile(backend, PROJECT, profile.to_jcr())
    apply_manifest(backend, PROJECT, MANIFEST_YAML)
    rows = profile.validate_input(current.drop(columns=["client"]), batch=True)
    clients = current["client"].tolist()
    events = []
    for i, tags in enumerate(rows):
        event = tags_event(
            PROJECT, f"n{i}", [*tags, {"name": "client", "value": clients[i], "type": "label", "group": None}]
        )
        event["ts"] = (BASE_TS + timedelta(seconds=i)).isoformat(timespec="microseconds")
        events.append(event)
    for i in range(0, len(events), 1000):
        store_events(backend, PROJECT, events[i : i + 1000])
    return backend


def raymon_passes(
    backend: Any, repeat: int, hooks: bool = True
) -> tuple[list[float], list[float], dict[str, list[str]], int]:
    """Time the engine's passes ``repeat`` times (undone in between): wall and CPU runs, the verdicts by slice, the windows.

    With ``hooks`` the passes run with the engine's own (issues, alerts, discovery cells), as the
    reduce job runs them.
    """
    from sqlalchemy import text

    from raymon.server.engine import runtime
    from raymon.server.engine.reduce_jobs import load_reducer, no_pass_hook, no_results_hook, run_pass
    from raymon.server.services import manifests as manifest_service
    from raymon.server.services import slices as slice_service
    from raymon.server.store import reduce as reduce_store

    m = manifest_service.current(backend, PROJECT)
    assert m is not None
    action = m.actions.reduce[0]
    on_results = runtime.window_results_to_issues(backend) if hooks else no_results_hook
    after_pass = runtime.pass_events_to_alerts(backend) if hooks else no_pass_hook
    on_claimed = PHASES.hook(slice_service.cells_hook, "cells") if hooks else None
    runs: list[float] = []
    cpus: list[float] = []
    n_windows = 0
    for attempt in range(repeat):
        with backend.reading() as session:
            reducer = load_reducer(backend, session, PROJECT, GROUP)
        PHASES.seconds.clear()
        t, c = time.perf_counter(), time.process_time()
        passes, n_tags, more = [], 0, True
        while (
            more
        ):  # the engine's passes take at most 400,000 tags each; a follow-up job takes the rest at once
            with backend.writing() as session:
                report = run_pass(
                    session, backend, PROJECT, m, action, reducer, BASE_TS,
                    on_results=on_results, after_pass=after_pass, on_claimed=on_claimed,
                )  # fmt: skip
            passes.append(report.pass_no)
            n_tags += report.n_tags
            n_windows = max(n_windows, len(report.windows))
            more = report.more
        runs.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        phases = ", ".join(f"{k} {v:.2f}" for k, v in sorted(PHASES.seconds.items()))
        print(
            f"raymon passes {passes[0]}-{passes[-1]}: {n_tags} tags into {n_windows} (slice, window) states "
            f"in {runs[-1]:.2f} s (cpu {cpus[-1]:.2f} s; {phases}; load {os.getloadavg()[0]:.1f})",
            file=sys.stderr,
        )
        if attempt < repeat - 1:
            with backend.database.connect() as conn:
                for sql in UNDO:
                    conn.execute(text(sql))
    flagged: dict[str, list[str]] = {}
    with backend.reading() as session:
        for window in reduce_store.windows(session, PROJECT, GROUP):
            name = window.slice.removeprefix("client==") or "(global)"
            rows = (window.result or {}).get("rows", [])
            flagged[name] = sorted(
                {r["component"] for r in rows if r.get("check") == "drift" and r.get("alert")}
            )
    return runs, cpus, flagged, n_windows


def in_memory(
    profile: ModelProfile, current: pd.DataFrame, repeat: int
) -> tuple[list[float], dict[str, list[str]]]:
    """The algorithmic part alone: per slice, a production profile built from its frame, contrasted (no database)."""
    slices = {c: f.drop(columns=["client"]) for c, f in current.groupby("client")}
    runs, flagged = [], {}
    for _ in range(repeat):
        t = time.perf_counter()
        for client, frame in slices.items():
            production = ModelProfile("bench", "1.0.0", components=_components()).build(
                input=frame, silent=True
            )
            flagged[client] = sorted(profile.contrast(production).drifting())
        runs.append(time.perf_counter() - t)
    return runs, flagged


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reference", type=int, default=20_000)
    parser.add_argument("--drifted", type=int, default=3, help="how many of the 10 clients' rows are shifted")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument(
        "--no-hooks", action="store_true", help="the passes without the issues and cells hooks"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the store a previous run left (ingest skipped)"
    )
    args = parser.parse_args(argv)

    reference, current = frames(args.reference, args.rows, args.drifted)
    profile = reference_profile(reference)
    t = time.perf_counter()
    backend = raymon_store(profile, current, args.reuse)
    print(f"{args.rows} traces ingested (untimed) in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    _instrument()
    runs, cpus, ours, n_windows = raymon_passes(backend, args.repeat, not args.no_hooks)
    backend.close()
    memory, memory_flagged = in_memory(profile, current, args.repeat)
    print(f"raymon in memory (the same mergeable stats built from each slice's frame + contrast): "
          f"best {min(memory):.2f} s (runs {', '.join(f'{r:.2f}' for r in memory)}); "
          f"same verdicts as the passes: {all(memory_flagged[c] == ours.get(c) for c in CLIENTS)}")  # fmt: skip
    expected = {c: (sorted(SHIFTED) if i < args.drifted else []) for i, c in enumerate(CLIENTS)}
    print(f"raymon reduce pass + contrast, {n_windows} (slice, window) states: best {min(runs):.2f} s "
          f"(runs {', '.join(f'{r:.2f}' for r in runs)}; cpu {', '.join(f'{r:.2f}' for r in cpus)})")  # fmt: skip
    print(f"  raymon flags: {json.dumps(ours)}")
    results: dict[str, Any] = {
        "rows": args.rows,
        "raymon_s": min(runs),
        "raymon_runs": runs,
        "raymon_cpu_runs": cpus,
        "memory_s": min(memory),
    }
    results["raymon_as_planted"] = all(ours.get(c) == v for c, v in expected.items())
    if args.no_evidently:
        print(json.dumps(results))
        return
    try:
        python = anchor_python("evidently", EVIDENTLY_REQUIREMENTS)
    except AnchorUnavailable as exc:
        print(f"evidently anchor unavailable: {exc}")
        print(json.dumps(results))
        return
    DATA_DIR.mkdir(exist_ok=True)
    ref_path, cur_path = (
        DATA_DIR / "vs_evidently_reference.parquet",
        DATA_DIR / "vs_evidently_current.parquet",
    )
    reference.to_parquet(ref_path)
    current.to_parquet(cur_path)
    ev = run_timed(python, EVIDENTLY_SCRIPT.format(ref=str(ref_path), cur=str(cur_path), repeat=args.repeat))
    print(f"evidently {ev['version']} DataDriftPreset x 10 slices: best {ev['seconds']:.2f} s "
          f"(runs {', '.join(f'{r:.2f}' for r in ev['runs'])}; {'; '.join(ev['methods'])})")  # fmt: skip
    print(f"  evidently flags: {json.dumps(ev['flagged'])}")
    differ = {c: (ours.get(c), ev["flagged"].get(c)) for c in CLIENTS if ours.get(c) != ev["flagged"].get(c)}
    print(f"speed-up of the engine's passes: {ev['seconds'] / min(runs):.1f}x (target >= 20x); "
          f"in memory: {ev['seconds'] / min(memory):.1f}x; verdicts the same: {not differ}")  # fmt: skip
    for c, (a, b) in differ.items():
        print(f"  {c}: raymon {a}, evidently {b}")
    results.update(evidently_s=ev["seconds"], speedup=ev["seconds"] / min(runs), same_verdicts=not differ)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
