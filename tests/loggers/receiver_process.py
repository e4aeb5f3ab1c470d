"""Test helpers: the ingest receiver as a process that can be stopped and restarted, and client processes."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RECEIVER = HERE / "receiver.py"
BATCH_CLIENT = HERE / "batch_client.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ReceiverProcess:
    """``tests/loggers/receiver.py`` in its own process, on a fixed port so it can come back."""

    def __init__(self, db: Path, port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.db = db
        self.port = port or free_port()
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ReceiverProcess:
        cmd = [
            sys.executable,
            str(RECEIVER),
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            *self.extra_args,
        ]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"receiver exited with {self.process.returncode}")
            try:
                self.stats()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("receiver did not start within 20 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=5) as response:
            return dict(json.loads(response.read()))

    def fail_next(self, *failures: dict[str, Any]) -> None:
        """Answer the next ingest requests with these ``{"status", "retry_after"?}`` instead."""
        body = json.dumps({"failures": list(failures)}).encode()
        request = urllib.request.Request(f"{self.url}/control", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def messages(self) -> list[str]:
        """Every stored event's message (read from the SQLite file: works while stopped too)."""
        with sqlite3.connect(self.db) as conn:
            return [row[0] for row in conn.execute("SELECT message FROM events")]

    def wait_for(self, count: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        distinct = 0
        while time.monotonic() < deadline:
            distinct = int(self.stats()["distinct"])
            if distinct >= count:
                return distinct
            time.sleep(0.05)
        return distinct


def client_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent.parent / "src"), env.get("PYTHONPATH", "")])
    return env
