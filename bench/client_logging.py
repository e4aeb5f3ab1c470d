"""Client logging cost per call, against a floor measured in the same run.

What a call to ``trace.tag([10 tags])`` (dicts, and ``Tag`` objects), ``trace.info(text)`` and
``trace.log(ref, rt.DataFrame(5x4))`` costs with ``RaymonFileLogger`` (default
durability: one ``os.write`` per event) and with ``RaymonBatchLogger`` (the same
write into its spool; its background thread sends to a real receiver process,
``tests/loggers/receiver.py``, or to nothing when the backend is down), against
a floor that writes **the same bytes** the fastest honest way: one dict literal
in the wire format's key order with the logger's own id and time helpers
(``raymon.wire.new_event_id``, ``now_rfc3339``), the caller's tag list and
text as they are, one ``orjson.dumps(..., option=OPT_APPEND_NEWLINE)``, appended
to an open file. Before timing, the script checks that the floor's line and
the file logger's line are byte for byte the same (but for event id and time).

- ``floor, os.write``: one unbuffered ``os.write`` per event, what our default
  durability does (survives a killed process). The floor the ratios use.
- ``floor, buffered``: Python's buffered ``file.write`` without a flush per
  event (loses the buffer on a crash). Shown for honesty.

The cost is the **process CPU time** per call (``time.process_time``): for the
batch logger with a live receiver it counts its sending thread (reading the
spool back, HTTP, acknowledgements) during the run and while it sends the
rest after the run (the untimed-by-wall ``flush``, timed by CPU). Each run
lasts longer than the batch logger's flush interval, so its thread sends while
the caller logs. The caller's wall-clock time per call is printed too.

    python bench/client_logging.py [--calls 60000] [--repeats 5]

Targets: the file logger at most 1.3x the os.write floor for tags and text.
(Tag objects are checked when made, so a list of them becomes its dicts without a
second check, ``raymon.tags.tag_objects_to_jcr``; dicts are checked on every call,
``raymon.tags.known_plain_tags``.)
The figures are written in bench/README.md.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

import raymon.types as rt
from raymon import RaymonBatchLogger, RaymonFileLogger, Tag, Trace
from raymon.wire import WIRE_VERSION, new_event_id, now_rfc3339

ROOT = Path(__file__).resolve().parent.parent
RECEIVER = ROOT / "tests" / "loggers" / "receiver.py"
PROJECT = "bench"
OPS = ["tags x10", "Tag objects x10", "text", "DataFrame 5x4"]

TAGS = [
    {"name": f"feature_{i}", "value": float(i) * 1.5, "type": "metric", "group": "model@1.0"}
    for i in range(10)
]
# The same ten tags as ``Tag`` objects (what a profile's validate_* answers), made once: checked then.
TAG_OBJECTS = [Tag.from_jcr(t) for t in TAGS]
TEXT = "prediction served in 12 ms for customer 42"
FRAME = pd.DataFrame(np.random.default_rng(0).normal(size=(5, 4)), columns=["a", "b", "c", "d"])


# -- the floor: the logger's line, built with nothing else ---------------------------------------
def floor_calls(write: Callable[[bytes], Any], trace_id: str) -> dict[str, Callable[[int], None]]:
    """The same line as the file logger's, for each operation: no checks, no copies, one dumps."""
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE

    def tags_of(objects: bool) -> Callable[[int], None]:
        def call(i: int) -> None:
            # Tag objects: their dicts (orjson can dump the dataclasses as they are, the same bytes,
            # but at ~1.3 us a Tag); dicts: the caller's list as it is.
            jcr = (
                [{"name": t.name, "value": t.value, "type": t.type, "group": t.group} for t in TAG_OBJECTS]
                if objects
                else TAGS
            )
            write(
                dumps(
                    {
                        "v": WIRE_VERSION,
                        "event_id": new_event_id(),
                        "project_id": PROJECT,
                        "trace_id": trace_id,
                        "ts": now_rfc3339(),
                        "kind": "tags",
                        "tags": jcr,
                    },
                    option=newline,
                )
            )

        return call

    def text(i: int) -> None:
        write(
            dumps(
                {
                    "v": WIRE_VERSION,
                    "event_id": new_event_id(),
                    "project_id": PROJECT,
                    "trace_id": trace_id,
                    "ts": now_rfc3339(),
                    "kind": "text",
                    "level": "info",
                    "message": TEXT,
                },
                option=newline,
            )
        )

    def frame(i: int) -> None:
        write(
            dumps(
                {
                    "v": WIRE_VERSION,
                    "event_id": new_event_id(),
                    "project_id": PROJECT,
                    "trace_id": trace_id,
                    "ts": now_rfc3339(),
                    "kind": "object",
                    "ref": f"df{i}",
                    "data": rt.DataFrame(FRAME).to_jcr(),
                },
                option=newline,
            )
        )

    return {
        "tags x10": tags_of(objects=False),
        "Tag objects x10": tags_of(objects=True),
        "text": text,
        "DataFrame 5x4": frame,
    }


def logger_calls(trace: Trace) -> dict[str, Callable[[int], None]]:
    def frame(i: int) -> None:
        trace.log(f"df{i}", rt.DataFrame(FRAME))

    return {
        "tags x10": lambda i: trace.tag(TAGS),
        "Tag objects x10": lambda i: trace.tag(TAG_OBJECTS),
        "text": lambda i: trace.info(TEXT),
        "DataFrame 5x4": frame,
    }


def check_same_bytes(work: Path) -> None:
    """The floor must write what the file logger writes: compare one line of each operation."""
    logger = RaymonFileLogger(work / "same-bytes", project_id=PROJECT)
    trace = Trace(logger)
    floor_lines: list[bytes] = []
    floor = floor_calls(floor_lines.append, trace.trace_id)
    for op in OPS:
        logger_calls(trace)[op](0)
        floor[op](0)
    logger.close()
    logged = b"".join(p.read_bytes() for p in sorted((work / "same-bytes").glob("*.ndjson")))
    for mine, theirs in zip(floor_lines, logged.splitlines(keepends=True), strict=True):
        a, b = orjson.loads(mine), orjson.loads(theirs)
        mine = mine.replace(a["event_id"].encode(), b["event_id"].encode()).replace(
            a["ts"].encode(), b["ts"].encode()
        )
        if mine != theirs:
            raise SystemExit(f"the floor does not write the logger's bytes:\n{mine!r}\n{theirs!r}")


def run(
    call: Callable[[int], None], first: int, calls: int, settle: Callable[[], None]
) -> tuple[float, float, float, float]:
    """One timed run, per call in us: (process CPU, settle included; caller wall; other threads' CPU), and its seconds."""
    gc.collect()
    cpu, mine = time.process_time(), time.thread_time()
    start = time.perf_counter()
    for i in range(first, first + calls):
        call(i)
    wall = time.perf_counter() - start
    settle()  # the batch logger sends what is left: its CPU is part of the cost, its waiting not
    total = time.process_time() - cpu
    others = total - (time.thread_time() - mine)  # the batch loggers' threads: sending, retrying
    return total / calls * 1e6, wall / calls * 1e6, others / calls * 1e6, wall


# -- the receiver process -----------------------------------------------------------------------
def start_receiver(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, str(RECEIVER), "--port", str(port), "--db", str(workdir / "events.sqlite")],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/stats", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the receiver did not start")


def report(runs: dict[tuple[str, str], list[tuple[float, float, float, float]]], names: list[str]) -> None:
    """CPU per call with its spread; ratios to the floor run of the same round (load changes between rounds)."""

    def spread(values: list[float], digits: int = 2) -> str:
        return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"

    floor = "floor, os.write"
    print("\nprocess CPU us per call, median of the runs [min-max]")
    print(f"{'':34}" + "".join(f"{op:>26}" for op in OPS))
    for name in names:
        print(f"{name:34}" + "".join(f"{spread([r[0] for r in runs[(name, op)]]):>26}" for op in OPS))
    print("\nratio to the os.write floor's run in the same round, median [min-max] (CPU)")
    for name in names:
        cells = [
            spread([a[0] / b[0] for a, b in zip(runs[(name, op)], runs[(floor, op)], strict=True)])
            for op in OPS
        ]
        print(f"{name:34}" + "".join(f"{c:>26}" for c in cells))
    print("\ncaller wall-clock us per call, median of the runs [min-max]")
    for name in names:
        print(f"{name:34}" + "".join(f"{spread([r[1] for r in runs[(name, op)]]):>26}" for op in OPS))
    print("\nof the process CPU, the part outside the caller's thread (us per call, median [min-max])")
    for name in names[2:]:
        print(f"{name:34}" + "".join(f"{spread([r[2] for r in runs[(name, op)]]):>26}" for op in OPS))
    print("target: RaymonFileLogger <= 1.30x the os.write floor (CPU) for tags and text", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=60000, help="calls per run for tags and text")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    calls = {
        "tags x10": args.calls,
        "Tag objects x10": args.calls,
        "text": args.calls,
        "DataFrame 5x4": max(args.calls // 20, 100),
    }

    with tempfile.TemporaryDirectory(prefix="raymon-bench-") as tmp:
        work = Path(tmp)
        check_same_bytes(work)
        receiver, url = start_receiver(work)
        try:
            fd = os.open(work / "floor-write.ndjson", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            buffered = open(work / "floor-buffered.ndjson", "ab")  # noqa: SIM115
            file_logger = RaymonFileLogger(work / "files", project_id=PROJECT)
            batch_up = RaymonBatchLogger(url=url, project_id=PROJECT, spool_dir=work / "spool-up")
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                down_url = f"http://127.0.0.1:{s.getsockname()[1]}"
            batch_down = RaymonBatchLogger(  # retrying rarely: its thread's CPU must not land in others' runs
                url=down_url,
                project_id=PROJECT,
                spool_dir=work / "spool-down",
                backoff_base=60,
                backoff_max=60,
            )
            flushed = True

            def settle_up() -> None:
                nonlocal flushed
                flushed = batch_up.flush(120) and flushed

            nothing: Callable[[], None] = lambda: None  # noqa: E731
            trace_id = new_event_id()
            setups: list[tuple[str, dict[str, Callable[[int], None]], Callable[[], None]]] = [
                ("floor, os.write", floor_calls(functools.partial(os.write, fd), trace_id), nothing),
                ("floor, buffered", floor_calls(buffered.write, trace_id), nothing),
                ("RaymonFileLogger", logger_calls(Trace(file_logger, trace_id)), nothing),
                ("RaymonBatchLogger, receiver up", logger_calls(Trace(batch_up, trace_id)), settle_up),
                ("RaymonBatchLogger, backend down", logger_calls(Trace(batch_down, trace_id)), nothing),
            ]
            for _, table, settle in setups:  # warm up: labels checked, files open
                for op in OPS:
                    table[op](0)
                settle()
            load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
            runs: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
            order = random.Random(0)
            for op in OPS:
                for r in range(args.repeats):  # a round of every setup, new order each time
                    for name, table, settle in order.sample(setups, len(setups)):
                        runs.setdefault((name, op), []).append(
                            run(table[op], 1 + r * calls[op], calls[op], settle)
                        )
            load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
            os.close(fd)
            buffered.close()
            file_logger.close()
            batch_up.close()
            batch_down.close(timeout=0)
            sent, requests = batch_up.stats.sent, batch_up.stats.requests
        finally:
            receiver.kill()
            receiver.wait()

    shortest = min(r[3] for op in OPS for r in runs[("RaymonBatchLogger, receiver up", op)])
    print(
        f"{args.repeats} interleaved runs per setup of {args.calls} calls ({calls['DataFrame 5x4']} for the "
        f"DataFrame); load average before {load_before}, after {load_after} ({os.cpu_count()} CPUs)"
    )
    print(
        f"shortest run of the live batch logger: {shortest:.2f} s, its flush interval "
        f"{batch_up.flush_interval:.2f} s; the receiver got {sent} events in {requests} requests "
        f"(flushed: {flushed})"
    )
    report(runs, [name for name, _, _ in setups])


if __name__ == "__main__":
    main()
