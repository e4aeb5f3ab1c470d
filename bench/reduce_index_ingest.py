"""What the reduce claim index (``ix_tags_unreduced``, migration 0010) costs ingest: an in-process A/B.

The same events (``--events`` traces of 20 tags in a profile group + 1 ungrouped tag, the worst
case: every grouped tag enters the partial index) stored through ``services.ingest.store_events``
in batches of 1,000 on a fresh SQLite store, with the index (as migrated) and without it
(dropped), in turns ``--repeat`` times; the best run of each counts. Prints events/s and the ratio.

    python bench/reduce_index_ingest.py [--events 30000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

WORK_DIR = Path(tempfile.gettempdir()) / "raymon-bench-reduce-index"


def events(n: int) -> list[dict[str, Any]]:
    from raymon.wire import tags_event

    base = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        tags = [
            {"name": f"x{j:02d}", "value": float(i % 97 + j), "type": "profile-input", "group": "bench@1.0.0"}
            for j in range(20)
        ]
        tags.append({"name": "client", "value": f"c{i % 10}", "type": "label", "group": None})
        event = tags_event("bench", f"t{i}", tags)
        event["ts"] = (base + timedelta(seconds=i)).isoformat(timespec="microseconds")
        out.append(event)
    return out


def run(with_index: bool, batch: list[dict[str, Any]]) -> float:
    from sqlalchemy import text

    from raymon.server.backend import build_backend
    from raymon.server.services import auth
    from raymon.server.services.ingest import store_events
    from raymon.server.settings import Settings
    from raymon.server.store.db import Database, sqlite_url

    data = WORK_DIR / ("with" if with_index else "without")
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    database = Database(sqlite_url(data / "raymon.sqlite3"))
    database.migrate()
    if not with_index:
        with database.connect() as conn:
            conn.execute(text("DROP INDEX ix_tags_unreduced"))
    backend = build_backend(Settings(data_dir=data), database=database)
    with backend.writing() as session:
        auth.ensure_project(session, "bench", "bench")
    started = time.perf_counter()
    for i in range(0, len(batch), 1000):
        store_events(backend, "bench", batch[i : i + 1000])
    elapsed = time.perf_counter() - started
    backend.close()
    return len(batch) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    batch = events(args.events)
    best = {True: 0.0, False: 0.0}
    for _ in range(args.repeat):
        for with_index in (False, True):
            best[with_index] = max(best[with_index], run(with_index, batch))
    print(f"without the index: {best[False]:.0f} events/s ({best[False] * 21:.0f} tags/s)")
    print(f"with the index:    {best[True]:.0f} events/s ({best[True] * 21:.0f} tags/s)")
    print(f"ratio with / without: {best[True] / best[False]:.3f}")


if __name__ == "__main__":
    main()
