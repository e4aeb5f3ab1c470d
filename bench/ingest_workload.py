"""The events the ingest benchmark sends, and the same events as the table rows the store ends up with.

Realistic traces, built with the client's own builders (``raymon.wire``,
``raymon.tags.tags_to_jcr``, ``raymon.types``): each trace logs one tags
event with 10 tags (8 text, 2 numbers), one text line and one small object
(alternately a 16-float ``rt.Numpy`` and an ``rt.Native`` dict, 150-300 bytes
of jcr). ``table_rows`` turns a batch of them into the rows of ``events``,
``traces``, ``tags``, ``texts`` and ``objects`` that ingestion writes, for
the raw floor. This module does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

import raymon.types as rt
from raymon.tags import tags_to_jcr
from raymon.wire import Event, object_event, parse_ts, tags_event, text_event

REGIONS = ("eu-west", "eu-north", "us-east", "us-west", "ap-south")


def build_events(project_id: str, n_events: int, seed: int = 3) -> list[Event]:
    """``n_events`` events, three per trace (tags, text, object), in logging order."""
    rng = np.random.default_rng(seed)
    events: list[Event] = []
    trace_no = 0
    while len(events) < n_events:
        trace_id = f"bench-{seed}-{trace_no:09d}"
        latency = int(rng.integers(1, 500))
        tags = tags_to_jcr(
            [
                {"name": "client", "value": f"c{rng.integers(10)}"},
                {"name": "app", "value": f"v{rng.integers(10)}"},
                {"name": "model", "value": f"m{rng.integers(5)}"},
                {"name": "shard", "value": f"s{rng.integers(1000)}"},
                {"name": "region", "value": REGIONS[rng.integers(len(REGIONS))]},
                {"name": "host", "value": f"h{rng.integers(50)}"},
                {"name": "status", "value": "ok" if rng.random() < 0.95 else "error"},
                {"name": "user", "value": f"u{rng.integers(100_000)}"},
                {"name": "latency_ms", "value": latency, "type": "metric"},
                {"name": "score", "value": round(float(rng.random()), 6), "type": "metric"},
            ]
        )
        if trace_no % 2:
            data = rt.Numpy(rng.random(16)).to_jcr()
        else:
            data = rt.Native(
                {"features": {"sqft": int(rng.integers(400, 4000)), "rooms": 3}, "ok": True}
            ).to_jcr()
        events.append(tags_event(project_id, trace_id, tags))
        events.append(text_event(project_id, trace_id, "info", f"predicted price in {latency} ms"))
        events.append(object_event(project_id, trace_id, "request_features", data))
        trace_no += 1
    return events[:n_events]


def batches(events: list[Event], size: int) -> list[list[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


@dataclass
class TableRows:
    """One batch as rows per table (tuples in each table's column order below)."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    traces: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    texts: list[tuple[Any, ...]] = field(default_factory=list)
    objects: list[tuple[Any, ...]] = field(default_factory=list)


COLUMNS = {
    "events": ("project_id", "event_id", "kind", "received_at", "content_hash"),
    "traces": ("id", "project_id", "trace_id", "first_ts", "last_ts"),
    "tags": ("project_id", "trace_pk", "name", "type", "grp", "value_num", "value_text", "ts"),
    "texts": ("project_id", "trace_pk", "ts", "level", "message"),
    "objects": ("id", "project_id", "trace_pk", "ref", "ts", "data_type", "size", "body", "store_key"),
}


def table_rows(
    batch_list: list[list[Event]], project_id: str, received_at: str, ts_text: Any
) -> list[TableRows]:
    """Every batch's rows; a trace row goes with the batch that first mentions the trace.

    ``ts_text`` turns a ``datetime`` into what the database gets (SQLite text or an ISO string).
    """
    from raymon.server.store.writes import content_hash, numeric_reading

    trace_pks: dict[str, int] = {}
    out = []
    for batch in batch_list:
        rows = TableRows()
        for event in batch:
            ts = ts_text(parse_ts(event["ts"]))
            trace_id = event["trace_id"]
            pk = trace_pks.get(trace_id)
            if pk is None:
                pk = trace_pks[trace_id] = len(trace_pks) + 1
                rows.traces.append((pk, project_id, trace_id, ts, ts))
            rows.events.append(
                (project_id, event["event_id"], event["kind"], received_at, content_hash(event))
            )
            if event["kind"] == "tags":
                for tag in event["tags"]:
                    value = tag["value"]
                    text = value if isinstance(value, str) else None
                    rows.tags.append(
                        (
                            project_id,
                            pk,
                            tag["name"],
                            tag["type"],
                            tag["group"],
                            numeric_reading(value),
                            text,
                            ts,
                        )
                    )
            elif event["kind"] == "text":
                rows.texts.append((project_id, pk, ts, event["level"], event["message"]))
            else:
                body = orjson.dumps(event["data"]).decode()
                rows.objects.append(
                    (
                        event["event_id"],
                        project_id,
                        pk,
                        event["ref"],
                        ts,
                        event["data"]["type"],
                        len(body),
                        body,
                        None,
                    )
                )
        out.append(rows)
    return out
