"""A small real ingest receiver for the logger tests, run as its own process.

It mimics the backend's ingest contract (``POST /api/v1/projects/<id>/ingest``
with a JSON array, one object or NDJSON; each record validated with
``raymon.wire.validate_event``; the good ones stored once per ``event_id``; an
answer ``{"accepted", "duplicates", "rejected": [{"index", "event_id", "error"}]}``,
like ``raymon server``: 200 when all records were good, 207 when some were
refused, 422 when all were, 400 when the body is not JSON at all). Events live in a SQLite file, so a restarted receiver keeps
them. ``POST /control`` makes the next requests fail on demand; ``GET /stats``
reports what was stored and every request seen. It never serves anything but
127.0.0.1 and is not part of the package.

    python receiver.py --port 8123 --db events.sqlite [--api-key KEY] [--refuse WORD]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from raymon.exceptions import WireFormatError
from raymon.wire import validate_event

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, trace_id TEXT, kind TEXT,
                                   message TEXT, received_at REAL, body TEXT);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER);
CREATE TABLE IF NOT EXISTS requests (at REAL, status INTEGER, records INTEGER);
"""


class Receiver:
    def __init__(self, db: str, api_key: str | None, refuse: str | None) -> None:
        self.db = db
        self.api_key = api_key
        self.refuse = refuse
        self.lock = threading.Lock()
        self.failures: list[dict[str, Any]] = []  # what the next ingest requests answer instead
        with self.connect() as conn:
            conn.executescript(SCHEMA)

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def record_request(self, conn: sqlite3.Connection, status: int, records: int) -> None:
        conn.execute("INSERT INTO requests VALUES (?, ?, ?)", (time.time(), status, records))

    def ingest(self, project_id: str, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock, self.connect() as conn:
            if self.failures:
                failure = self.failures.pop(0)
                headers = {"Retry-After": str(failure["retry_after"])} if "retry_after" in failure else {}
                self.record_request(conn, failure["status"], 0)
                return failure["status"], {"detail": "failure on demand"}, headers
            try:
                records = parse_body(body)
            except ValueError as exc:
                self.record_request(conn, 400, 0)
                return 400, {"detail": f"body is not JSON: {exc}"}, {}
            accepted = duplicates = 0
            errors = []
            for index, record in enumerate(records):
                try:
                    event = validate_event(record)
                    if event["project_id"] != project_id:
                        raise WireFormatError(f"project_id {event['project_id']!r} is not {project_id!r}")
                    if self.refuse and self.refuse in str(event.get("message", "")):
                        raise WireFormatError(f"message contains {self.refuse!r}")
                except WireFormatError as exc:
                    event_id = record.get("event_id") if isinstance(record, dict) else None
                    errors.append({"index": index, "event_id": event_id, "error": str(exc)})
                    continue
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        event["event_id"],
                        event["trace_id"],
                        event["kind"],
                        event.get("message"),
                        time.time(),
                        json.dumps(event),
                    ),
                )
                if cursor.rowcount == 1:
                    accepted += 1
                else:
                    duplicates += 1
            conn.execute(
                "INSERT INTO counters VALUES ('duplicates', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (duplicates,),
            )
            status = (207 if accepted or duplicates else 422) if errors else 200
            self.record_request(conn, status, len(records))
            return (
                status,
                {"accepted": accepted, "duplicates": duplicates, "conflicts": [], "rejected": errors},
                {},
            )

    def stats(self) -> dict[str, Any]:
        with self.connect() as conn:
            distinct = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            row = conn.execute("SELECT value FROM counters WHERE name = 'duplicates'").fetchone()
            requests = conn.execute("SELECT at, status, records FROM requests ORDER BY rowid").fetchall()
        return {"distinct": distinct, "duplicates": row[0] if row else 0, "requests": requests}


def parse_body(body: bytes) -> list[Any]:
    text = body.decode("utf-8")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]  # NDJSON
    return parsed if isinstance(parsed, list) else [parsed]


def make_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class IngestRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def read_body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            if self.path == "/stats":
                self.answer(200, receiver.stats())
            else:
                self.answer(404, {"detail": "not found"})

        def do_POST(self) -> None:
            body = self.read_body()
            parts = self.path.strip("/").split("/")
            if self.path == "/control":
                receiver.failures.extend(json.loads(body)["failures"])
                self.answer(200, {"queued": len(receiver.failures)})
                return
            if len(parts) != 5 or parts[:3] != ["api", "v1", "projects"] or parts[4] != "ingest":
                self.answer(404, {"detail": f"no route {self.path}"})
                return
            if receiver.api_key and self.headers.get("Authorization") != f"Bearer {receiver.api_key}":
                self.answer(401, {"detail": "bad or missing API key"})
                return
            status, answer, headers = receiver.ingest(parts[3], body)
            self.answer(status, answer, headers)

    return IngestRequestHandler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--api-key")
    parser.add_argument("--refuse", help="refuse records whose message contains this word")
    args = parser.parse_args(argv)
    receiver = Receiver(args.db, args.api_key, args.refuse)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(receiver))
    server.daemon_threads = True
    print(f"receiver listening on 127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
