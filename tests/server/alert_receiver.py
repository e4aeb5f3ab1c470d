"""An HTTP receiver of alerts, run as its own process on 127.0.0.1 by the end-to-end alert tests.

``python alert_receiver.py PORT RECORD_FILE [STATUS ...]`` serves POSTs on ``PORT``; every request
is appended to ``RECORD_FILE`` as one JSON line (``path``, ``headers``, ``body`` as text, the
``status`` answered), flushed before the answer goes out, so a test reading the file sees every
request that was answered. The answers follow the script of status codes given (one per request,
in order; ``503*3`` repeats one; past the script's end: 200). A 429 or 503 carries
``Retry-After: 1`` so the server retries within a second. It prints ``ready`` once listening. It
never reaches anything but the one socket it listens on.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def parse_script(words: list[str]) -> list[int]:
    script: list[int] = []
    for word in words:
        code, _, times = word.partition("*")
        script += [int(code)] * int(times or 1)
    return script


def serve(port: int, record: Path, script: list[int]) -> None:
    lock = threading.Lock()
    answers = iter(script)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with lock:
                status = next(answers, 200)
                line = {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8", errors="replace"),
                    "status": status,
                }
                with record.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(line) + "\n")
            self.send_response(status)
            if status in (429, 503):
                self.send_header("Retry-After", "1")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), Path(sys.argv[2]), parse_script(sys.argv[3:]))
