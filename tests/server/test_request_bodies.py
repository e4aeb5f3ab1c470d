"""Request bodies at the HTTP edge, against a real server over raw sockets and HTTP.

Slow clients never stall other tenants and get 408; oversized bodies get 413
before they are read, on every route; gzip bodies are read to their end or
refused; Content-Types that are not JSON or NDJSON get 415.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from server_helpers import counts, text

SLOW_TIMEOUT = 3.0


def _headers(path: str, key: str, length: int | None, content_type: str = "application/json") -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {key}",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _connect(server) -> socket.socket:  # type: ignore[no-untyped-def]
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """The status and body of the first response on ``sock`` (its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        (int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), 0
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), body


def _vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_slow_clients_of_one_project_do_not_stall_another_and_get_408(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(
        RAYMON_REQUEST_READ_TIMEOUT_SECONDS=str(SLOW_TIMEOUT), RAYMON_INGEST_SLOT_WAIT_SECONDS="2"
    )
    slow_project, other = server.new_project(), server.new_project()
    slow_key = server.key(slow_project, "ingest")
    path = f"/api/v1/projects/{slow_project.project_id}/ingest"
    sockets = [_connect(server) for _ in range(6)]  # more than the 4 ingest slots
    for sock in sockets:
        sock.sendall(_headers(path, slow_key, 100_000))
    stop = threading.Event()

    def drip() -> None:  # one byte a second on every slow connection
        while not stop.is_set():
            for sock in sockets:
                try:
                    sock.sendall(b" ")
                except OSError:
                    pass
            stop.wait(1.0)

    dripper = threading.Thread(target=drip, daemon=True)
    started = time.monotonic()
    dripper.start()
    try:
        time.sleep(0.5)  # the slow requests are in, reading
        with server.client(other.admin_key) as client:
            for number in range(5):
                before = time.monotonic()
                response = client.post(
                    f"/api/v1/projects/{other.project_id}/ingest",
                    json=[text(other.project_id, f"t{number}")],
                )
                assert response.status_code == 200, response.text
                assert time.monotonic() - before < 1.0  # well under the 2 s slot wait
        with server.client(slow_key) as client:  # the slow clients' own project is not stalled either
            response = client.post(path, json=[text(slow_project.project_id, "fast")])
            assert response.status_code == 200, response.text
        answers = [_read_response(sock) for sock in sockets]
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        dripper.join()
        for sock in sockets:
            sock.close()
    for status, body in answers:
        assert status == 408, body
        assert b"RAYMON_REQUEST_READ_TIMEOUT_SECONDS" in body
    assert SLOW_TIMEOUT <= elapsed < SLOW_TIMEOUT + 4
    assert counts(server, other.project_id)["events"] == 5
    assert counts(server, slow_project.project_id)["events"] == 1


@pytest.mark.parametrize(
    "route",
    [
        "/api/v1/projects/{pid}/profiles",
        "/api/v1/projects/{pid}/ingest",
        "/api/v1/projects/{pid}/keys",
        "/api/v1/projects/{pid}/users",
        "/api/v1/projects",
    ],
)
def test_a_declared_body_over_the_limit_is_refused_413_before_it_is_read(server, route: str) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    assert server.process is not None
    rss_before = _vm_rss_kib(server.process.pid)
    with _connect(server) as sock:
        sock.sendall(_headers(route.format(pid=project.project_id), project.admin_key, 200_000_000))
        began = time.monotonic()
        status, body = _read_response(sock)  # not one byte of the body was sent
    assert status == 413, body
    assert time.monotonic() - began < 2
    assert b"RAYMON_MAX_REQUEST_BYTES" in body
    assert _vm_rss_kib(server.process.pid) - rss_before < 20_000


def test_a_chunked_body_over_the_limit_is_refused_413_as_it_streams(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(RAYMON_MAX_REQUEST_BYTES="1000000")
    assert server.process is not None
    rss_before = _vm_rss_kib(server.process.pid)
    chunk = b"x" * 1_000_000
    with _connect(server) as sock:
        sock.sendall(_headers(f"/api/v1/projects/{server.project_id}/profiles", server.admin_key, None))
        sent = 0
        try:
            for _ in range(200):  # 200 MB offered, in chunks of 1 MB
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:  # the server answered and closed: it stopped reading long before the end
            pass
        status, body = _read_response(sock)
    assert status == 413, body
    assert sent < 200_000_000
    assert _vm_rss_kib(server.process.pid) - rss_before < 30_000


def _post(server, project, body: bytes, **headers: str):  # type: ignore[no-untyped-def]
    with server.client(project.admin_key) as client:
        return client.post(
            f"/api/v1/projects/{project.project_id}/ingest",
            content=body,
            headers={"Content-Type": "application/x-ndjson", **headers},
        )


def _ndjson(pid: str, first: int, last: int) -> bytes:
    return b"".join(orjson.dumps(text(pid, f"t{i}", message=f"m{i}")) + b"\n" for i in range(first, last))


def test_every_member_of_a_multi_member_gzip_body_is_read(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    body = (
        gzip.compress(_ndjson(pid, 0, 4))
        + gzip.compress(_ndjson(pid, 4, 7))
        + gzip.compress(_ndjson(pid, 7, 10))
    )
    response = _post(server, project, body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 10
    assert counts(server, pid)["events"] == 10


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda body: body[: len(body) * 6 // 10], "truncated"),
        (lambda body: body[:-4], "truncated"),  # only the trailer's size is missing
        (lambda body: body + b"trailing junk", "not another gzip member"),
        (lambda body: body + gzip.compress(b"{}")[:12], "truncated"),  # a second member cut short
    ],
    ids=["cut-at-60-percent", "no-size-trailer", "trailing-bytes", "truncated-second-member"],
)
def test_a_gzip_body_that_does_not_end_cleanly_is_400_and_nothing_is_stored(
    server, mangle, reason: str
) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    body = mangle(gzip.compress(_ndjson(pid, 0, 10)))
    response = _post(server, project, body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]
    assert counts(server, pid)["events"] == 0


def test_a_streamed_gzip_bomb_is_413_without_inflating_it(server) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    assert server.process is not None
    rss_before = _vm_rss_kib(server.process.pid)

    def bomb() -> Iterator[bytes]:  # 1 GiB of zeros, compressed as it is sent (about 1 MB on the wire)
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = bytes(1 << 20)
        for _ in range(1024):
            yield compressor.compress(block)
        yield compressor.flush()

    with server.client(project.admin_key) as client:
        response = client.post(
            f"/api/v1/projects/{project.project_id}/ingest",
            content=bomb(),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
    assert response.status_code == 413, response.text
    assert "max_request_bytes" in response.json()["detail"]
    assert _vm_rss_kib(server.process.pid) - rss_before < 150_000  # the 32 MiB limit, not 1 GiB


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/xml", b"<events><event/></events>"),
        ("image/png", b"\x89PNG\r\n\x1a\n" + bytes(64)),
        ("application/octet-stream", b"{}"),
        ("application/x-www-form-urlencoded", b"a=1"),
        ("multipart/form-data; boundary=x", b"--x--"),
    ],
)
def test_a_body_that_is_not_json_or_ndjson_is_refused_415(server, content_type: str, body: bytes) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    with server.client(project.admin_key) as client:
        response = client.post(
            f"/api/v1/projects/{project.project_id}/ingest",
            content=body,
            headers={"Content-Type": content_type},
        )
    assert response.status_code == 415, response.text
    assert content_type.split(";")[0] in response.json()["detail"]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.raymon+json",
        "application/x-ndjson",
        "application/jsonlines",
        "text/plain; charset=utf-8",
    ],
)
def test_json_and_ndjson_types_and_no_type_are_accepted(server, content_type: str | None) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project()
    pid = project.project_id
    body = _ndjson(pid, 0, 3)
    with server.client(project.admin_key) as client:
        response = client.post(
            f"/api/v1/projects/{pid}/ingest",
            content=body,
            headers={"Content-Type": content_type} if content_type else {},
        )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
