"""The synchronous API logger against a real local HTTP receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

import raymon.types as rt
from raymon import BackendUnavailableError, RaymonAPILogger, Trace


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str], object]] = []
        self.answer = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, dict(self.headers), orjson.loads(body)))
        self.send_response(self.server.answer)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail": "nope"}' if self.server.answer >= 300 else b'{"accepted": 1}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_api_logger_posts_each_event_to_the_ingest_endpoint_with_the_key(receiver, event_validator):
    logger = RaymonAPILogger(url=receiver.url, project_id="proj", api_key="secret")
    trace = Trace(logger)
    trace.info("hi")
    trace.tag([{"name": "a", "value": 1, "type": "metric"}])
    trace.log("obj", rt.Native([1, 2]))
    logger.close()
    assert len(receiver.requests) == 3
    for path, headers, body in receiver.requests:
        assert path == "/api/v1/projects/proj/ingest"
        assert headers["Authorization"] == "Bearer secret"
        event_validator.validate(body)


def test_url_and_key_default_to_environment_variables(receiver, monkeypatch):
    monkeypatch.setenv("RAYMON_URL", receiver.url + "/")
    monkeypatch.setenv("RAYMON_API_KEY", "from-env")
    logger = RaymonAPILogger(project_id="proj")
    Trace(logger).info("x")
    assert receiver.requests[0][1]["Authorization"] == "Bearer from-env"


def test_refused_event_raises_with_status_and_body(receiver):
    receiver.answer = 422
    logger = RaymonAPILogger(url=receiver.url, project_id="proj")
    with pytest.raises(BackendUnavailableError, match="422") as info:
        Trace(logger).info("x")
    assert info.value.status_code == 422


def test_unreachable_backend_raises_a_clear_error():
    logger = RaymonAPILogger(url="http://127.0.0.1:9", project_id="proj", timeout=2)
    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        Trace(logger).info("x")


def test_url_is_required(monkeypatch):
    monkeypatch.delenv("RAYMON_URL", raising=False)
    with pytest.raises(ValueError, match="RAYMON_URL"):
        RaymonAPILogger(project_id="proj")
