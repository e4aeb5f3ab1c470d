"""A kept-alive HTTP(S) connection that POSTs batches to the ingest endpoint, for the batch logger.

Built on the standard library's ``http.client`` rather than httpx because the
batch logger's sending thread shares the GIL with the application: a request
costs about half the CPU this way, and every microsecond the thread holds the
GIL is one the caller's ``log`` may wait. It only moves bytes: it never decides
what to retry (``raymon.loggers.batch`` does). No HTTP proxy support: the
logger connects straight to ``url``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from raymon.exceptions import ConfigurationError

if TYPE_CHECKING:
    import http.client


@dataclass
class IngestAnswer:
    status: int
    body: bytes
    retry_after: str | None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class IngestConnection:
    """POST to one endpoint over one connection, reconnecting when the server closed it."""

    def __init__(self, endpoint: str, headers: dict[str, str], timeout: float) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError("url", f"url must be http(s)://host[:port][/prefix], got {endpoint!r}")
        self.endpoint = endpoint
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.headers = {**headers, "Content-Type": "application/json"}
        self.timeout = timeout
        import http.client  # noqa: F401  here, not at import: ``import raymon`` stays light; the sending thread finds it loaded
        import ssl

        self._conn: http.client.HTTPConnection | None = None
        self._ssl = ssl.create_default_context() if self.https else None

    def _connect(self) -> http.client.HTTPConnection:
        import http.client

        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._ssl)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def post(self, body: bytes) -> IngestAnswer:
        """Send ``body``; raise ``OSError`` or ``http.client.HTTPException`` when no answer came."""
        import http.client

        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._conn or self._connect()
            self._conn = conn
            try:
                conn.request("POST", self.path, body=body, headers=self.headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused and attempt == 1:
                    continue  # the server closed a kept-alive connection: once more on a new one
                raise
            except (OSError, http.client.HTTPException):
                self.close()
                raise
            if response.will_close:
                self.close()
            return IngestAnswer(response.status, data, response.getheader("Retry-After"))
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
