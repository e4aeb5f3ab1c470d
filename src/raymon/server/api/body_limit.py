"""``RequestBodyLimits``: every request body is bounded in size and in time, before any route reads it.

A pure ASGI middleware, so it holds for every route alike (ingest, profiles,
admin) and costs nothing per byte beyond counting:

- a declared ``Content-Length`` over ``max_request_bytes`` is answered 413 at
  once, without reading the body;
- a body without one (chunked) is counted as it streams and answered 413 as
  soon as it goes over;
- a body that has not fully arrived ``request_read_timeout_seconds`` after the
  route first asks for it is answered 408 (a slow client holds a connection,
  never a worker or an ingest slot for longer than that).

Refusals close the connection. The route, if it was reading, sees the client
as gone; what it answers afterwards is dropped. This module never reads a body
into memory, and never knows any route.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("raymon.server.requests")


def too_large_message(limit: int) -> str:
    return f"the request body is over the limit max_request_bytes={limit} (RAYMON_MAX_REQUEST_BYTES)"


def too_slow_message(timeout: float) -> str:
    return (
        f"the request body did not arrive within request_read_timeout_seconds={timeout:g} "
        "(RAYMON_REQUEST_READ_TIMEOUT_SECONDS): send it faster or in smaller requests"
    )


class RequestBodyLimits:
    """Refuse request bodies over ``max_bytes`` (413) or slower than ``read_timeout`` seconds (408)."""

    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _answer(send, 413, too_large_message(self.max_bytes))
            return
        await _LimitedRequest(self, receive, send).run(scope)


class _LimitedRequest:
    """One request under the limits: its ``receive`` counts and times, its ``send`` stops after a refusal."""

    def __init__(self, limits: RequestBodyLimits, receive: Receive, send: Send) -> None:
        self.limits = limits
        self._receive = receive
        self._send = send
        self.received = 0
        self.body_done = False
        self.deadline: float | None = None
        self.response_started = False
        self.refused = False

    async def run(self, scope: Scope) -> None:
        try:
            await self.limits.app(scope, self.receive, self.send)
        except Exception:
            if not self.refused:
                raise
            log.debug("the route failed after its request was refused", exc_info=True)

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        if self.body_done:
            return await self._receive()
        loop = asyncio.get_running_loop()
        if self.deadline is None:
            self.deadline = loop.time() + self.limits.read_timeout
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            await self.refuse(408, too_slow_message(self.limits.read_timeout))
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limits.max_bytes:
                await self.refuse(413, too_large_message(self.limits.max_bytes))
                return {"type": "http.disconnect"}
            if not message.get("more_body", False):
                self.body_done = True
        else:
            self.body_done = True  # the client is gone: nothing more to time
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the route answers after our refusal: nobody is listening
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)

    async def refuse(self, status: int, detail: str) -> None:
        self.refused = True
        if not self.response_started:
            await _answer(self._send, status, detail)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _answer(send: Send, status: int, detail: str) -> None:
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
