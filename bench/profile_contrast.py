"""Benchmark: contrast two 100,000 x 20 data sets, raymon against Evidently's data drift preset.

raymon's time covers building both profiles and contrasting them; Evidently's
covers ``Report([DataDriftPreset()]).run(current, reference)`` in its own venv
(Evidently 0.7 needs pandas < 2.3), fed the same frames through Parquet files
under bench/.data/. Half the columns of the current set are shifted. Prints
both times, the speed-up (target >= 10x) and which columns each flags.

    python bench/profile_contrast.py [--rows 100000] [--shift 0.5] [--repeat 2] [--no-evidently]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from anchor_venv import AnchorUnavailable, anchor_python, run_timed  # noqa: E402
from mixed_frame import frame_on_disk  # noqa: E402
from profile_build import build_raymon  # noqa: E402

EVIDENTLY_REQUIREMENTS = ["evidently==0.7.*", "pandas<2.3", "pyarrow"]

EVIDENTLY_SCRIPT = """
import json, time
import pandas as pd
import evidently
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.read_parquet({ref!r})
cur = pd.read_parquet({cur!r})
times = []
for _ in range({repeat}):
    t = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    result = snapshot.dict()
    times.append(time.perf_counter() - t)
flagged, methods = [], {{}}
for metric in result["metrics"]:
    config = metric.get("config", {{}})
    if not config.get("type", "").endswith("ValueDrift"):
        continue
    value, threshold, method = metric["value"], config["threshold"], config["method"]
    methods[config["column"]] = method
    is_pvalue = "p_value" in method.lower() or "test" in method.lower()
    if (value < threshold) if is_pvalue else (value >= threshold):
        flagged.append(config["column"])
print(json.dumps({{"seconds": min(times), "version": evidently.__version__, "flagged": sorted(flagged),
                  "methods": sorted(set(methods.values()))}}))
"""


def contrast_raymon(ref: pd.DataFrame, cur: pd.DataFrame) -> object:
    reference = build_raymon(ref)
    current = build_raymon(cur)
    return reference.contrast(current)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--shift", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-evidently", action="store_true", help="skip the Evidently anchor")
    args = parser.parse_args()

    ref_path = frame_on_disk(args.rows, seed=1)
    cur_path = frame_on_disk(args.rows, seed=2, shift=args.shift)
    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    print(
        f"reference {ref.shape}, current {cur.shape}; current shifted by {args.shift} on every other column"
    )

    # warm-up: import-time costs (SciPy, pandas paths) are paid once per process, as Evidently's
    # imports are paid before its timer starts
    contrast_raymon(ref.head(1000), cur.head(1000))
    times, report = [], None
    for _ in range(args.repeat):
        t = time.perf_counter()
        report = contrast_raymon(ref, cur)
        times.append(time.perf_counter() - t)
    ours = min(times)
    ours_flagged = sorted(report.drifting())  # type: ignore[attr-defined]
    print(f"{'raymon build x2 + contrast':<30}{ours:9.3f} s   verdict {report.verdict}")  # type: ignore[attr-defined]
    print(f"  raymon flags   ({len(ours_flagged):2d}): {', '.join(ours_flagged)}")
    results: dict[str, object] = {"rows": args.rows, "raymon_s": ours, "raymon_flagged": ours_flagged}
    if not args.no_evidently:
        try:
            python = anchor_python("evidently", EVIDENTLY_REQUIREMENTS)
            ev = run_timed(
                python, EVIDENTLY_SCRIPT.format(ref=str(ref_path), cur=str(cur_path), repeat=args.repeat)
            )
            results.update(evidently_s=ev["seconds"], evidently_flagged=ev["flagged"])
            print(f"{'evidently ' + ev['version'] + ' DataDriftPreset':<30}{ev['seconds']:9.3f} s")
            print(
                f"  evidently flags({len(ev['flagged']):2d}): {', '.join(ev['flagged'])}  ({'; '.join(ev['methods'])})"
            )
            agree = set(ev["flagged"]) == set(ours_flagged)
            only_ours = sorted(set(ours_flagged) - set(ev["flagged"]))
            only_theirs = sorted(set(ev["flagged"]) - set(ours_flagged))
            print(f"speed-up: {ev['seconds'] / ours:.1f}x (target >= 10x); verdicts agree: {agree}")
            if not agree:
                print(f"  only raymon: {only_ours}; only evidently: {only_theirs}")
            results.update(speedup=ev["seconds"] / ours, agree=agree)
        except AnchorUnavailable as exc:
            print(f"evidently anchor unavailable: {exc}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
