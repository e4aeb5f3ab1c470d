"""The demo project: one trace per house of the house-prices data (``raymon/demo_data``).

Each house becomes a trace with its features as an ``rt.DataFrame`` object
``input``, tags (neighbourhood, a ``client`` label, the sale price and a few
numeric features as metrics) and one text line. Event ids are derived from
the house, so loading twice stores everything once; the load goes through the
ingest service like any request. It never touches other projects' data.

One demo key: the first load makes an ``ingest,read`` key named ``demo`` and
answers it (to be shown once); later loads make none while that key is active
(revoke it and restart for a new one). When the demo project is created, the
admins of the start-up project (the ``RAYMON_INIT_*`` user) become its admins.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any

from raymon.server.services import auth
from raymon.server.services.bootstrap import startup_project_id
from raymon.server.services.ingest import ingest_records
from raymon.server.store import accounts
from raymon.wire import WIRE_VERSION, Event

if TYPE_CHECKING:
    from raymon.server.backend import Backend

DEMO_PROJECT_ID = "demo"
DEMO_KEY_NAME = "demo"
DEMO_KEY_SCOPES = "ingest,read"
DEMO_NAMESPACE = uuid.UUID("0b6c3f5e-8d1a-4c2b-9e7f-64656d6f0001")
DATASETS = (("subset-cheap.csv", "cheap"), ("subset-exp.csv", "expensive"))
BATCH_EVENTS = 1_000
_CLIENTS = ("bigshot_client", "regular_client", "small_client")


@dataclass(frozen=True)
class DemoInfo:
    project_id: str
    key: str | None  # the new demo key; None when the one made before is still active
    traces: int
    accepted: int
    duplicates: int


def _event(trace_id: str, part: str, ts: datetime, **fields: Any) -> Event:
    return {
        "v": WIRE_VERSION,
        "event_id": str(uuid.uuid5(DEMO_NAMESPACE, f"{trace_id}/{part}")),
        "project_id": DEMO_PROJECT_ID,
        "trace_id": trace_id,
        "ts": ts.isoformat(timespec="microseconds"),
        **fields,
    }


def _row_jcrs(frame: Any) -> Iterator[dict[str, Any]]:
    """The ``rt.DataFrame`` jcr of each one-row frame ``frame.iloc[[i]].reset_index(drop=True)``.

    Encoding 1,460 one-row frames one by one takes ~10 s; encoding the whole
    frame once and slicing its columns gives the same jcrs (tested) in well
    under a second. Valid for the plain int/float/str columns of this data.
    """
    import raymon.types as rt

    whole = rt.DataFrame(frame.reset_index(drop=True)).to_jcr()
    params = whole["params"]
    for i in range(len(frame)):
        columns = [{**col, "values": [col["values"][i]]} for col in params["columns"]]
        yield {
            "type": whole["type"],
            "params": {
                "columns": columns,
                "column_index": params["column_index"],
                "index": {"range": [0, 1, 1], "name": None},
            },
        }


def demo_events(now: datetime | None = None) -> Iterator[Event]:
    """Every event of the demo project, oldest first, spread over the week before ``now``."""
    import pandas as pd

    now = now or datetime.now(UTC)
    frames = []
    for filename, dataset in DATASETS:
        path = resources.files("raymon").joinpath(f"demo_data/{filename}")
        with path.open("rb") as fh:
            frame = pd.read_csv(fh)
        frame["__dataset"] = dataset
        frames.append(frame)
    houses = pd.concat(frames, ignore_index=True)
    step = timedelta(days=7) / max(len(houses), 1)
    features = houses.drop(columns=["SalePrice", "__dataset"])
    records = houses.to_dict("records")
    for i, (record, jcr) in enumerate(zip(records, _row_jcrs(features), strict=True)):
        trace_id = f"house-{int(record['Id'])}"
        ts = now - timedelta(days=7) + step * i
        client = _CLIENTS[int(record["Id"]) % len(_CLIENTS)]
        yield _event(
            trace_id,
            "text",
            ts,
            kind="text",
            level="info",
            message=f"pricing house {record['Id']} in {record['Neighborhood']}",
        )
        yield _event(trace_id, "input", ts, kind="object", ref="input", data=jcr)
        tags = [
            {"name": "neighbourhood", "value": str(record["Neighborhood"]), "type": "label", "group": None},
            {"name": "client", "value": client, "type": "label", "group": None},
            {"name": "dataset", "value": record["__dataset"], "type": "label", "group": None},
            {"name": "sale_price", "value": int(record["SalePrice"]), "type": "metric", "group": None},
            {"name": "overall_qual", "value": int(record["OverallQual"]), "type": "metric", "group": None},
            {"name": "living_area", "value": int(record["GrLivArea"]), "type": "metric", "group": None},
        ]
        yield _event(trace_id, "tags", ts, kind="tags", tags=tags)


def load_demo(backend: Backend, progress: bool = False) -> DemoInfo:
    """Create the demo project if needed, load its traces (idempotent); answer the demo key if new."""
    key: str | None = None
    with backend.writing() as session:
        _, created = auth.ensure_project(session, DEMO_PROJECT_ID, "Demo: house prices")
        if created:
            for member in accounts.members(session, startup_project_id(backend.settings)):
                if member.role == "admin":
                    auth.set_role(session, member.email, DEMO_PROJECT_ID, "admin")
        keys = accounts.list_keys(session, DEMO_PROJECT_ID)
        if not any(row.name == DEMO_KEY_NAME and row.revoked_at is None for row in keys):
            _, key = auth.create_key(
                session, DEMO_PROJECT_ID, DEMO_KEY_SCOPES, name=DEMO_KEY_NAME, now=backend.clock()
            )
    events = list(demo_events())
    accepted = duplicates = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(events), desc="demo data", unit="event")
    for start in range(0, len(events), BATCH_EVENTS):
        batch = events[start : start + BATCH_EVENTS]
        result = ingest_records(backend, DEMO_PROJECT_ID, batch)
        if result.rejected:
            raise RuntimeError(f"demo data refused: {result.rejected[:3]}")
        accepted += result.accepted
        duplicates += result.duplicates
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return DemoInfo(DEMO_PROJECT_ID, key, len(events) // 3, accepted, duplicates)
