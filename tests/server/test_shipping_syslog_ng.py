"""End to end: the file logger writes, a real syslog-ng tails the files and POSTs them to the
ingest API, the server is restarted halfway, and every event is stored exactly once."""

from __future__ import annotations

import threading
import time

import numpy as np
import orjson
import pytest
from sqlalchemy import func, select
from syslog_ng import SyslogNg, http_module_installed, syslog_ng_binary

import raymon.types as rt
from raymon import RaymonFileLogger, Trace

pytestmark = pytest.mark.skipif(
    syslog_ng_binary() is None or not http_module_installed(),
    reason="needs Debian's syslog-ng-core and syslog-ng-mod-http (apt-get install -y syslog-ng-core syslog-ng-mod-http)",
)

TRACES = 400


def written_event_ids(log_dir) -> set[str]:
    return {
        orjson.loads(line)["event_id"]
        for f in log_dir.glob("raymon-*.ndjson")
        for line in f.read_bytes().splitlines()
    }


def stored_counts(server, project_id: str) -> dict[str, int]:
    from raymon.server.store import models as m

    db = server.database()
    try:
        with db.session() as session:
            return {
                table.__tablename__: session.scalar(
                    select(func.count()).select_from(table).where(table.project_id == project_id)
                )
                or 0
                for table in (m.IngestedEvent, m.TextLine, m.Tag, m.DataObject, m.Trace)
            }
    finally:
        db.dispose()


def test_syslog_ng_ships_every_file_logger_event_exactly_once_across_a_server_restart(make_server, tmp_path):
    server = make_server()
    project = server.new_project("shipping")
    key = server.key(project, "ingest")
    log_dir = tmp_path / "logs"
    logger = RaymonFileLogger(path=log_dir, project_id=project.project_id, max_bytes=64 * 1024)
    shipper = SyslogNg(tmp_path / "syslog-ng", log_dir, server.url, project.project_id, key)
    halfway = threading.Event()

    def write() -> None:
        for i in range(TRACES):
            trace = Trace(logger, trace_id=f"house-{i:05d}")
            trace.info(f"request {i}")
            trace.tag(
                [
                    {"name": "client", "value": f"client-{i % 3}", "type": "label"},
                    {"name": "i", "value": i, "type": "metric"},
                ]
            )
            trace.log("features", rt.Numpy(np.arange(i % 50, dtype=np.float64)))
            if i == TRACES // 2:
                halfway.set()
            time.sleep(0.005)

    shipper.start()
    try:
        writer = threading.Thread(target=write)
        writer.start()
        assert halfway.wait(60)
        server.stop()  # the backend goes away while lines keep coming
        time.sleep(2)
        server.start()
        writer.join(120)
        logger.close()
        expected = {
            "events": 3 * TRACES,
            "texts": TRACES,
            "tags": 2 * TRACES,
            "objects": TRACES,
            "traces": TRACES,
        }
        deadline = time.monotonic() + 120
        counts = stored_counts(server, project.project_id)
        while counts != expected and time.monotonic() < deadline:
            time.sleep(0.5)
            counts = stored_counts(server, project.project_id)
        assert counts == expected, (
            f"stored {counts}, expected {expected}\nsyslog-ng said:\n{shipper.output()[-3000:]}"
        )
        # Stable for a moment more: no late duplicates from retried batches.
        time.sleep(1.5)
        assert stored_counts(server, project.project_id) == expected
        assert len(written_event_ids(log_dir)) == 3 * TRACES
    finally:
        shipper.stop()
