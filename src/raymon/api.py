"""``RaymonAPI``: a thin client for every endpoint of the Raymon backend's REST API.

Every call answers the ``httpx.Response`` (``.ok``, ``.status_code``, ``.json()``),
so existing code written against the original Raymon (``if not resp.ok: ...``)
keeps working. Method names and arguments follow the original client where it
had them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import httpx
import orjson

from raymon.loggers.api import auth_headers, resolve_url
from raymon.wire import Event


class Response(httpx.Response):
    """An ``httpx.Response`` with ``.ok`` (true for 2xx and 3xx), as the original client answered."""

    @property
    def ok(self) -> bool:
        return self.status_code < 400


def _as_response(resp: httpx.Response) -> Response:
    resp.__class__ = Response
    return resp  # type: ignore[return-value]


class RaymonAPI:
    """A client for the backend at ``url`` (default ``RAYMON_URL``) with ``api_key`` (default ``RAYMON_API_KEY``)."""

    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.url = resolve_url(url)
        self.api_key = api_key if api_key is not None else os.environ.get("RAYMON_API_KEY")
        self._client = httpx.Client(base_url=self.url, headers=auth_headers(self.api_key), timeout=timeout)

    # -- plumbing ----------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        """Send any request to the backend; ``path`` starts with ``/api/v1/...``."""
        params = kwargs.get("params")
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        return _as_response(self._client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Response:
        if json is not None:
            kwargs["content"] = orjson.dumps(json)
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
        return self.request("POST", path, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Response:
        if json is not None:
            kwargs["content"] = orjson.dumps(json)
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RaymonAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingestion ---------------------------------------------------------------------------
    def ingest(self, project_id: str, events: Event | Iterable[Event]) -> Response:
        """Send one event or a list of events (wire format) to the ingest endpoint."""
        body = events if isinstance(events, dict) else list(events)
        return self.post(f"/api/v1/projects/{project_id}/ingest", json=body)

    # -- objects -----------------------------------------------------------------------------
    def object_search(self, project_id: str, trace_id: str, ref: str) -> Response:
        """Find the object logged under ``ref`` on a trace: JSON ``{"obj_id", "obj_data", ...}``."""
        return self.get(
            f"/api/v1/projects/{project_id}/objects/search", params={"trace_id": trace_id, "ref": ref}
        )

    def __repr__(self) -> str:
        return f"RaymonAPI(url={self.url!r})"
