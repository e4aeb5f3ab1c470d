"""What ``import raymon`` costs a service, against baselines measured in the same run.

Each statement runs in a new interpreter (``python -X importtime`` is not used: it
slows what it measures); the child times its own statement with
``time.perf_counter`` and the script keeps the best of ``--repeats`` runs, the
setups interleaved in a new random order every round. Baselines: ``pass`` (the
interpreter alone: 0 by construction, shown with its process wall time) and
``import orjson`` and ``import orjson, httpx`` (the libraries the logging client is
built on; ``raymon`` imports httpx only when ``RaymonAPI`` or ``RaymonAPILogger`` is
used), and ``import numpy, pandas``, what ``import raymon`` paid at least before
the client became light.

    python bench/client_import.py [--repeats 15]

Prints milliseconds per statement (best and median) and whether NumPy or pandas
ended up loaded; the target is ``import raymon`` under 80 ms with neither loaded.
The figures are written in bench/README.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time

STATEMENTS = {
    "pass": "pass",
    "import orjson": "import orjson",
    "import orjson, httpx": "import orjson, httpx",
    "import numpy, pandas (what import raymon cost before)": "import numpy, pandas",
    "import raymon": "import raymon",
    "import raymon, raymon.types, raymon.loggers": "import raymon, raymon.types, raymon.loggers",
    "from raymon import RaymonAPI": "from raymon import RaymonAPI",
    "import raymon.cli (raymon --help)": "import raymon.cli",
}

CHILD = """
import sys, time
t0 = time.perf_counter()
exec({statement!r})
t1 = time.perf_counter()
print((t1 - t0) * 1000, int('numpy' in sys.modules), int('pandas' in sys.modules))
"""


def run_once(statement: str) -> tuple[float, float, bool, bool]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(statement=statement)], capture_output=True, text=True, check=True
    ).stdout.split()
    wall = (time.perf_counter() - start) * 1000
    return float(out[0]), wall, out[1] == "1", out[2] == "1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    walls: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    loaded: dict[str, tuple[bool, bool]] = {}
    names = list(STATEMENTS)
    for _ in range(args.repeats):
        random.shuffle(names)
        for name in names:
            took, wall, np_loaded, pd_loaded = run_once(STATEMENTS[name])
            times[name].append(took)
            walls[name].append(wall)
            loaded[name] = (np_loaded, pd_loaded)
    floor = min(times["import orjson, httpx"])
    print(
        f"{'statement':56} {'best ms':>8} {'median':>8} {'process':>8}  {'vs orjson+httpx':>15}  numpy/pandas"
    )
    for name in STATEMENTS:
        best = min(times[name])
        ratio = f"{best / floor:.2f}x" if floor else "-"
        np_loaded, pd_loaded = loaded[name]
        print(
            f"{name:56} {best:8.1f} {statistics.median(times[name]):8.1f} {min(walls[name]):8.1f}"
            f"  {ratio:>15}  {'yes' if np_loaded else 'no'}/{'yes' if pd_loaded else 'no'}"
        )
    best = min(times["import raymon"])
    print(
        f"target: import raymon under 80 ms without pandas: {best:.1f} ms, "
        f"{'met' if best < 80 and not loaded['import raymon'][1] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
