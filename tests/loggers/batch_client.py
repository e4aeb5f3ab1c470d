"""A client process for the batch logger tests: logs numbered messages, records each one ``log`` returned.

Each message is ``<run>-<i>``; after ``log`` returns, the message is appended
to ``--returned`` (one line, one ``os.write``), so a test that kills this
process knows which events the logger had accepted.

    python batch_client.py --url URL --spool DIR --run NAME --count N --returned FILE
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from raymon import RaymonBatchLogger, Trace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--project", default="proj")
    parser.add_argument("--spool", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--returned", required=True)
    parser.add_argument("--pause-every", type=int, default=100, help="sleep --pause s every this many events")
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--flush-interval", type=float, default=0.2)
    parser.add_argument("--backoff-max", type=float, default=1.0)
    parser.add_argument("--close-timeout", type=float, default=60.0)
    parser.add_argument("--exit-without-close", action="store_true", help="leave it to the atexit flush")
    args = parser.parse_args()

    logger = RaymonBatchLogger(
        url=args.url,
        project_id=args.project,
        spool_dir=args.spool,
        flush_interval=args.flush_interval,
        backoff_max=args.backoff_max,
        exit_timeout=args.close_timeout,
    )
    returned = os.open(args.returned, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    print("started", flush=True)
    for i in range(args.count):
        message = f"{args.run}-{i}"
        Trace(logger, trace_id=message).info(message)
        os.write(returned, f"{message}\n".encode())
        if args.pause and (i + 1) % args.pause_every == 0:
            time.sleep(args.pause)
    os.close(returned)
    if args.exit_without_close:
        return 0
    flushed = logger.flush(args.close_timeout)
    logger.close(timeout=1.0)
    print(f"flushed={flushed}", flush=True)
    return 0 if flushed else 3


if __name__ == "__main__":
    sys.exit(main())
