"""``RaymonAPILogger``: one synchronous HTTP request per event, for development.

It blocks until the backend accepted the event and raises
``BackendUnavailableError`` when it cannot: use the batch logger or the file
logger in production.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from raymon import config
from raymon.exceptions import BackendUnavailableError
from raymon.loggers.base import RaymonLoggerBase
from raymon.wire import Event

if TYPE_CHECKING:
    import httpx


def resolve_url(url: str | None) -> str:
    return config.backend_url(url)


def ingest_url(url: str, project_id: str) -> str:
    return f"{url}/api/v1/projects/{project_id}/ingest"


def auth_headers(api_key: str | None) -> dict[str, str]:
    api_key = config.api_key(api_key)
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class RaymonAPILogger(RaymonLoggerBase):
    """POST every event to ``{url}/api/v1/projects/{project_id}/ingest``, waiting for the answer.

    ``url`` and ``api_key`` default to ``RAYMON_URL`` and ``RAYMON_API_KEY``.
    """

    def __init__(
        self,
        url: str | None = None,
        project_id: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        max_object_bytes: int | None = None,
    ) -> None:
        super().__init__(project_id=project_id, max_object_bytes=max_object_bytes)
        self.url = resolve_url(url)
        self.endpoint = ingest_url(self.url, self.project_id)
        headers = {"Content-Type": "application/json", **auth_headers(api_key)}
        import httpx  # here, not at import: httpx (and what it pulls in) costs more than the rest of raymon

        self._client: httpx.Client = httpx.Client(headers=headers, timeout=timeout)

    def emit(self, event: Event) -> None:
        import httpx

        try:
            response = self._client.post(self.endpoint, content=orjson.dumps(event))
        except httpx.HTTPError as exc:
            raise BackendUnavailableError(
                f"cannot reach the Raymon backend at {self.endpoint}: {exc}"
            ) from exc
        if response.status_code >= 300:
            raise BackendUnavailableError(
                f"the Raymon backend refused the event ({response.status_code}) at {self.endpoint}: {response.text[:500]}",
                status_code=response.status_code,
                body=response.text,
            )

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"RaymonAPILogger(url={self.url!r}, project_id={self.project_id!r})"
