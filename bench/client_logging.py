"""Client logging cost per call, against a floor measured in the same run.

What a call to ``trace.tag([10 tags])``, ``trace.info(text)`` and
``trace.log(ref, rt.DataFrame(5x4))`` costs the caller with
``RaymonFileLogger`` (default durability: one ``os.write`` per event) and with
``RaymonBatchLogger`` (same write into its spool; its background thread sends
to a real receiver process, ``tests/loggers/receiver.py``, or to nothing when
the backend is down), against two floors that build the same event dict
(uuid4, timestamp, the tag dicts / text / jcr), ``orjson.dumps`` it and append
it to an open file:

- ``floor, os.write``: one unbuffered ``os.write`` per event, what our default
  durability does (survives a killed process). The fair comparison.
- ``floor, buffered``: Python's buffered ``file.write`` without a flush per
  event (loses the buffer on a crash). Shown for honesty.

    python bench/client_logging.py [--calls 20000] [--repeats 5]

Prints the cost per call in microseconds and the ratios; targets: file logger at most
2x the os.write floor for tags and text, batch logger no costlier than the file
logger. The figures are written in bench/README.md.
"""

from __future__ import annotations

import argparse
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
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

import raymon.types as rt
from raymon import RaymonBatchLogger, RaymonFileLogger, Trace
from raymon.loggers.base import RaymonLoggerBase

ROOT = Path(__file__).resolve().parent.parent
RECEIVER = ROOT / "tests" / "loggers" / "receiver.py"
PROJECT = "bench"

TAGS = [
    {"name": f"feature_{i}", "value": float(i) * 1.5, "type": "metric", "group": "model@1.0"}
    for i in range(10)
]
TEXT = "prediction served in 12 ms for customer 42"
FRAME = pd.DataFrame(np.random.default_rng(0).normal(size=(5, 4)), columns=["a", "b", "c", "d"])


# -- the floor: the same event dict, dumped and appended, nothing else ---------------------------
def floor_event(kind: str, trace_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    event = {
        "v": 1,
        "event_id": str(uuid.uuid4()),
        "project_id": PROJECT,
        "trace_id": trace_id,
        "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
        "kind": kind,
    }
    event.update(fields)
    return event


def floor_calls(write: Callable[[bytes], Any]) -> dict[str, Callable[[int], None]]:
    trace_id = str(uuid.uuid4())

    def tags(i: int) -> None:
        write(orjson.dumps(floor_event("tags", trace_id, {"tags": [dict(t) for t in TAGS]})) + b"\n")

    def text(i: int) -> None:
        write(orjson.dumps(floor_event("text", trace_id, {"level": "info", "message": TEXT})) + b"\n")

    def frame(i: int) -> None:
        jcr = rt.DataFrame(FRAME).to_jcr()
        write(orjson.dumps(floor_event("object", trace_id, {"ref": f"df{i}", "data": jcr})) + b"\n")

    return {"tags x10": tags, "text": text, "DataFrame 5x4": frame}


def logger_calls(logger: RaymonLoggerBase) -> dict[str, Callable[[int], None]]:
    trace = Trace(logger)

    def frame(i: int) -> None:
        trace.log(f"df{i}", rt.DataFrame(FRAME))

    return {"tags x10": lambda i: trace.tag(TAGS), "text": lambda i: trace.info(TEXT), "DataFrame 5x4": frame}


def run_us(call: Callable[[int], None], first: int, calls: int) -> float:
    """The mean wall-clock cost of one call over ``calls`` calls, in microseconds."""
    gc.collect()
    start = time.perf_counter()
    for i in range(first, first + calls):
        call(i)
    return (time.perf_counter() - start) / calls * 1e6


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


def report(label: str, results: dict[str, dict[str, float]], ops: list[str]) -> None:
    floor, file_row = results["floor, os.write"], results["RaymonFileLogger"]
    print(f"\n{label}: microseconds per call, then ratios")
    print(f"{'':34}" + "".join(f"{op:>16}" for op in ops))
    for name, row in results.items():
        print(f"{name:34}" + "".join(f"{row[op]:16.2f}" for op in ops))
    print("ratio to the os.write floor (target: file logger <= 2.0 for tags and text)")
    for name, row in results.items():
        print(f"{name:34}" + "".join(f"{row[op] / floor[op]:16.2f}" for op in ops))
    print("ratio to the file logger (target: batch logger <= 1.0)")
    for name in ("RaymonBatchLogger, receiver up", "RaymonBatchLogger, backend down"):
        print(f"{name:34}" + "".join(f"{results[name][op] / file_row[op]:16.2f}" for op in ops))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000, help="calls per run for tags and text")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    ops = ["tags x10", "text", "DataFrame 5x4"]
    calls = {"tags x10": args.calls, "text": args.calls, "DataFrame 5x4": max(args.calls // 10, 100)}

    with tempfile.TemporaryDirectory(prefix="raymon-bench-") as tmp:
        work = Path(tmp)
        receiver, url = start_receiver(work)
        try:
            fd = os.open(work / "floor-write.ndjson", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            buffered = open(work / "floor-buffered.ndjson", "ab")  # noqa: SIM115
            file_logger = RaymonFileLogger(work / "files", project_id=PROJECT)
            batch_up = RaymonBatchLogger(url=url, project_id=PROJECT, spool_dir=work / "spool-up")
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                down_url = f"http://127.0.0.1:{s.getsockname()[1]}"
            batch_down = RaymonBatchLogger(url=down_url, project_id=PROJECT, spool_dir=work / "spool-down")
            flushed = True

            def settle_up() -> None:  # untimed: its sending must not slow the next setup down
                nonlocal flushed
                flushed = batch_up.flush(120) and flushed

            nothing: Callable[[], None] = lambda: None  # noqa: E731
            setups: list[tuple[str, Any, Callable[[], None]]] = [
                ("floor, os.write", floor_calls(lambda b: os.write(fd, b)), nothing),
                ("floor, buffered", floor_calls(buffered.write), nothing),
                ("RaymonFileLogger", logger_calls(file_logger), nothing),
                ("RaymonBatchLogger, receiver up", logger_calls(batch_up), settle_up),
                ("RaymonBatchLogger, backend down", logger_calls(batch_down), nothing),
            ]
            load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
            runs: dict[tuple[str, str], list[float]] = {}
            sender_cpu = {op: 0.0 for op in ops}
            order = random.Random(0)
            for op in ops:
                for r in range(args.repeats):  # round robin in a new order each time: noise hits all alike
                    for name, table, settle in order.sample(setups, len(setups)):
                        cpu, thread_cpu = time.process_time(), time.thread_time()
                        runs.setdefault((name, op), []).append(run_us(table[op], r * calls[op], calls[op]))
                        settle()
                        if settle is settle_up:  # CPU the process spent outside this thread: the sender
                            sender_cpu[op] += (time.process_time() - cpu) - (time.thread_time() - thread_cpu)
            os.close(fd)
            buffered.close()
            file_logger.close()
            batch_up.close()
            batch_down.close(timeout=0)
            sent = batch_up.stats.sent
        finally:
            receiver.kill()
            receiver.wait()

    print(
        f"per-call cost in microseconds over {args.repeats} interleaved runs of {args.calls} calls "
        f"({calls['DataFrame 5x4']} for the DataFrame); load average before: {load_before}"
    )
    for label, pick in (("best run", min), ("median run", statistics.median)):
        results = {name: {op: pick(runs[(name, op)]) for op in ops} for name, _, _ in setups}
        report(label, results, ops)
    print("\nbatch logger's sending thread, CPU per event (us; it shares the GIL with the caller)")
    print(f"{'':34}" + "".join(f"{sender_cpu[op] / (calls[op] * args.repeats) * 1e6:16.2f}" for op in ops))
    print(f"\nthe receiver got {sent} events from the batch logger (flushed: {flushed})")


if __name__ == "__main__":
    main()
