"""``RaymonAPI``: a thin client for every endpoint of the Raymon backend's REST API.

Every call answers the ``httpx.Response`` (``.ok``, ``.status_code``, ``.json()``),
so existing code written against the original Raymon (``if not resp.ok: ...``)
keeps working. Method names and arguments follow the original client where it
had them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson

from raymon import config
from raymon.exceptions import ConfigurationError, ManifestError
from raymon.loggers.api import auth_headers, resolve_url
from raymon.wire import Event

if TYPE_CHECKING:
    import pandas as pd


class Response(httpx.Response):
    """An ``httpx.Response`` with ``.ok`` (true for 2xx and 3xx), as the original client answered."""

    @property
    def ok(self) -> bool:
        return self.status_code < 400


def _as_response(resp: httpx.Response) -> Response:
    resp.__class__ = Response
    return resp  # type: ignore[return-value]


def _seg(value: str) -> str:
    """Quote one path segment, so an id or name can never change the route it goes to."""
    return quote(str(value), safe="@:")


def _as_time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ConfigurationError(
            "begin/end", f"give begin/end as timezone-aware datetimes (or RFC 3339 strings), got {value!r}"
        )
    return value.isoformat()


class RaymonAPI:
    """A client for the backend at ``url`` (default ``RAYMON_URL``) with ``api_key`` (default ``RAYMON_API_KEY``)."""

    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.url = resolve_url(url)
        self.api_key = config.api_key(api_key)
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

    # -- projects, keys, users (admin scope; see docs/server.md) -------------------------------
    def project_create(self, project_name: str, project_id: str | None = None) -> Response:
        """Create a project: JSON ``{"project_id", "name", "key"}``, ``key`` being its admin key (shown once)."""
        body: dict[str, Any] = {"name": project_name}
        if project_id is not None:
            body["project_id"] = project_id
        return self.post("/api/v1/projects", json=body)

    def projects_ls(self) -> Response:
        """The projects this key may read: JSON ``{"projects": [{"project_id", "name", "created_at"}]}``."""
        return self.get("/api/v1/projects")

    def project_get(self, project_id: str) -> Response:
        return self.get(f"/api/v1/projects/{_seg(project_id)}")

    def key_create(
        self, project_id: str, scopes: str | Iterable[str] = "ingest,read", name: str = ""
    ) -> Response:
        """Create an API key with ``scopes`` (ingest, read, admin): JSON holds the new ``key`` (shown once)."""
        scope_list = scopes if isinstance(scopes, str) else list(scopes)
        return self.post(
            f"/api/v1/projects/{_seg(project_id)}/keys", json={"scopes": scope_list, "name": name}
        )

    def key_ls(self, project_id: str) -> Response:
        return self.get(f"/api/v1/projects/{_seg(project_id)}/keys")

    def key_revoke(self, project_id: str, key_id: str) -> Response:
        """Revoke a key by its ``key_id``; it is refused from then on."""
        return self.delete(f"/api/v1/projects/{_seg(project_id)}/keys/{_seg(key_id)}")

    def user_invite(self, project_id: str, email: str, role: str = "viewer") -> Response:
        """Invite ``email`` to a role (``admin`` or ``viewer``): JSON holds the invitation's ``token`` (shown once).

        Hand the token to the person; they accept with ``invitation_accept``.
        """
        body = {"email": email, "role": role}
        return self.post(f"/api/v1/projects/{_seg(project_id)}/users", json=body)

    def invitations_ls(self, project_id: str) -> Response:
        """The project's open invitations: JSON ``{"invitations": [...]}`` (never their tokens)."""
        return self.get(f"/api/v1/projects/{_seg(project_id)}/invitations")

    def invitation_revoke(self, project_id: str, invitation_id: str) -> Response:
        return self.delete(f"/api/v1/projects/{_seg(project_id)}/invitations/{_seg(invitation_id)}")

    def invitation_accept(self, token: str, email: str, password: str) -> Response:
        """Accept an invitation with its ``token`` (no API key needed), creating the account if new."""
        return self.post(
            "/api/v1/invitations/accept",
            json={"email": email, "password": password},
            headers={"Authorization": f"Bearer {token}"},
        )

    def users_ls(self, project_id: str) -> Response:
        return self.get(f"/api/v1/projects/{_seg(project_id)}/users")

    def role_set(self, project_id: str, email: str, role: str) -> Response:
        return self.put(f"/api/v1/projects/{_seg(project_id)}/users/{_seg(email)}/role", json={"role": role})

    def user_remove(self, project_id: str, email: str) -> Response:
        """Take a user's role in the project away (the user itself stays)."""
        return self.delete(f"/api/v1/projects/{_seg(project_id)}/users/{_seg(email)}")

    def ingest_batch(self, project_id: str, records: Iterable[Any]) -> Response:
        """The original client's batch endpoint: legacy records or wire events."""
        return self.post(f"/api/v1/projects/{_seg(project_id)}/ingest_batch", json=list(records))

    # -- traces ------------------------------------------------------------------------------
    def trace_ls(
        self,
        project_id: str,
        slicestr: str | None = None,
        begin: datetime | str | None = None,
        end: datetime | str | None = None,
        limit: int = 250,
        cursor: str | None = None,
        order: str = "desc",
        tag_type: str | None = None,
        text: str | None = None,
        sort: str = "received",
    ) -> Response:
        """List traces, newest first: JSON ``{"traces": [...], "next_cursor": str | None}``.

        ``slicestr`` is a tag filter such as ``client==bigshot && app==v1.0.0`` (see
        docs/query.md); ``begin``/``end`` bound the trace's time (``begin <= t < end``);
        ``tag_type`` keeps traces with a tag of that type; ``text`` keeps traces whose
        logged texts contain it. Pass the answer's ``next_cursor`` as ``cursor`` for the next page.
        ``sort`` is ``received`` (the order the backend first received the traces, newest
        first by default) or ``time`` (by each trace's earliest logged time, ``first_ts``).
        """
        params = {
            "filter": slicestr,
            "begin": _as_time(begin),
            "end": _as_time(end),
            "limit": limit,
            "cursor": cursor,
            "order": order,
            "sort": sort,
            "tag_type": tag_type,
            "text": text,
        }
        return self.get(f"/api/v1/projects/{_seg(project_id)}/traces", params=params)

    def trace_iter(
        self, project_id: str, slicestr: str | None = None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Every trace that ``trace_ls`` selects, following the cursor page by page.

        Raises ``httpx.HTTPStatusError`` when the backend refuses a page.
        """
        cursor = kwargs.pop("cursor", None)
        while True:
            resp = self.trace_ls(project_id, slicestr, cursor=cursor, **kwargs)
            resp.raise_for_status()
            page = resp.json()
            yield from page["traces"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def trace_get(self, project_id: str, trace_id: str) -> Response:
        """One trace: JSON ``{"trace_id", "tags", "texts", "objects"}`` (objects as references, no data)."""
        return self.get(f"/api/v1/projects/{_seg(project_id)}/traces/{_seg(trace_id)}")

    def trace_download(self, project_id: str, trace_id: str) -> Response:
        """One whole trace as JSON: tags, texts and every object with its data (``obj_data``)."""
        return self.get(f"/api/v1/projects/{_seg(project_id)}/traces/{_seg(trace_id)}/download")

    # -- objects -----------------------------------------------------------------------------
    def object_ls(
        self,
        project_id: str,
        trace_id: str | None = None,
        ref: str | None = None,
        limit: int = 250,
        cursor: str | None = None,
    ) -> Response:
        """Object references (no data), newest first: ``{"objects": [...], "next_cursor": ...}``."""
        params = {"trace_id": trace_id, "ref": ref, "limit": limit, "cursor": cursor}
        return self.get(f"/api/v1/projects/{_seg(project_id)}/objects", params=params)

    def object_get(self, project_id: str, obj_id: str) -> Response:
        """One object by id: JSON ``{"obj_id", "obj_data", "ref", "trace_id", ...}``."""
        return self.get(f"/api/v1/projects/{_seg(project_id)}/objects/{_seg(obj_id)}")

    def object_search(self, project_id: str, trace_id: str, ref: str) -> Response:
        """Find the object logged under ``ref`` on a trace: JSON ``{"obj_id", "obj_data", ...}``.

        ``rt.load_jcr(resp.json()["obj_data"]).data`` is the object that was logged.
        """
        return self.get(
            f"/api/v1/projects/{_seg(project_id)}/objects/search", params={"trace_id": trace_id, "ref": ref}
        )

    def refs_ls(self, project_id: str) -> Response:
        """The refs objects were logged under: ``[{"ref", "count", "data_types", "last_ts"}]``."""
        return self.get(f"/api/v1/projects/{_seg(project_id)}/refs")

    # -- tags --------------------------------------------------------------------------------
    def tags_ls(
        self, project_id: str, name: str | None = None, values: int = 20, sample: int | None = None
    ) -> Response:
        """Tag statistics for building filters: every tag name with its types, trace count and top values.

        ``name`` restricts the answer to one tag; ``values`` is how many most common values to list;
        counts are over the ``sample`` latest received traces (default 10,000; 0 for every trace).
        """
        params = {"name": name, "values": values, "sample": sample}
        return self.get(f"/api/v1/projects/{_seg(project_id)}/tags", params=params)

    def tags_get(self, project_id: str, trace_id: str) -> Response:
        """The tags of one trace: ``[{"name", "value", "type", "group", "ts"}]``."""
        return self.get(f"/api/v1/projects/{_seg(project_id)}/traces/{_seg(trace_id)}/tags")

    # -- exports -----------------------------------------------------------------------------
    def export(
        self,
        project_id: str,
        ref: str,
        slicestr: str | None = None,
        begin: datetime | str | None = None,
        end: datetime | str | None = None,
        format: str = "ndjson",
        path: str | os.PathLike[str] | None = None,
    ) -> Response:
        """Export every object logged under ``ref`` on the traces a filter selects, as a dataset.

        ``format`` is ``ndjson`` (one JSON object per line: ``trace_id``, ``obj_id``, ``ts``,
        ``tags``, ``data``) or ``parquet`` (flat columns for a ref of DataFrames, Series and
        dicts, see docs/query.md; else the same columns, ``tags`` and ``data`` as JSON text).
        A ref no object of the project has is a 404 naming the refs there are.
        With ``path`` the body streams to that file (never held in memory) and the answer's
        body is not read again; without it the whole body is in ``resp.content``.
        """
        params = {
            "ref": ref,
            "filter": slicestr,
            "begin": _as_time(begin),
            "end": _as_time(end),
            "format": format,
        }
        url = f"/api/v1/projects/{_seg(project_id)}/export"
        if path is None:
            return self.get(url, params=params)
        params = {k: v for k, v in params.items() if v is not None}
        with self._client.stream("GET", url, params=params) as resp:
            if resp.status_code >= 400:
                resp.read()
            else:
                with open(path, "wb") as out:
                    for chunk in resp.iter_bytes():
                        out.write(chunk)
            return _as_response(resp)

    def export_frame(
        self,
        project_id: str,
        ref: str,
        filter: str | None = None,  # noqa: A002
        begin: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> pd.DataFrame:
        """Every object logged under ``ref`` on the traces ``filter`` selects, as one pandas DataFrame.

        Columns: ``trace_id``, ``obj_id``, ``ts`` (UTC), one ``tags.<name>`` per tag name (numbers
        as float64), then the object's own columns (a DataFrame's rows, a Series or a dict as one
        row; other objects in one ``data`` column). With pyarrow installed (``raymon[server]``)
        it fetches the Parquet export, whose flat columns pyarrow reads as they are; without
        pyarrow it fetches the NDJSON export and decodes it column by column
        (``raymon.frames``), several times slower but the same frame. Never one ``load_jcr``
        per row. Needs pandas; raises ``httpx.HTTPStatusError`` when the backend refuses (a bad
        filter, a ref no object has: 404).
        """
        from raymon import frames

        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            fmt = "ndjson"
        else:
            fmt = "parquet"
        resp = self.export(project_id, ref, slicestr=filter, begin=begin, end=end, format=fmt)
        resp.raise_for_status()
        if fmt == "parquet":
            return frames.export_frame_from_parquet(resp.content)
        return frames.export_frame_from_ndjson(resp.content)

    # -- profiles ----------------------------------------------------------------------------
    def profile_create(self, project_id: str, profile: Any) -> Response:
        """Store a ``ModelProfile`` (or its ``to_jcr()`` dict) under its ``name@version``."""
        body = profile.to_jcr() if hasattr(profile, "to_jcr") else profile
        return self.post(f"/api/v1/projects/{_seg(project_id)}/profiles", json=body)

    def profile_ls(self, project_id: str) -> Response:
        """Every stored profile: ``[{"name", "version", "created_at"}]``."""
        return self.get(f"/api/v1/projects/{_seg(project_id)}/profiles")

    def profile_get(self, project_id: str, profile: str, version: str | None = None) -> Response:
        """A stored profile's JSON by ``"name@version"`` (or ``name`` and ``version``)."""
        ref = f"{profile}@{version}" if version is not None else profile
        return self.get(f"/api/v1/projects/{_seg(project_id)}/profiles/{_seg(ref)}")

    # -- manifest ----------------------------------------------------------------------------
    def orchestration_apply(self, project_id: str, cfg: str) -> Response:
        """Apply a manifest (``cfg``: its YAML text) to the project, as the original client did.

        Answers the response; its JSON is ``{"project_id", "version", "applied_at", "changed",
        "config"}``. A manifest the backend refuses raises ``raymon.exceptions.ManifestError``
        whose ``errors`` hold every ``{"path", "line", "column", "message"}`` (nothing is applied);
        other refusals (a key without the ``admin`` scope...) are answered as responses.
        """
        resp = self.put(
            f"/api/v1/projects/{_seg(project_id)}/manifest",
            content=cfg.encode("utf-8"),
            headers={"Content-Type": "text/yaml; charset=utf-8"},
        )
        if resp.status_code == 422:
            body = resp.json()
            errors = body.get("errors") if isinstance(body, dict) else None
            if isinstance(errors, list):
                lines = "\n".join(f"  line {e['line']}, column {e['column']}: {e['message']}" for e in errors)
                raise ManifestError(f"the manifest was refused ({len(errors)} error(s)):\n{lines}", errors)
        return resp

    def orchestration_get(self, project_id: str, version: int | None = None) -> str:
        """The YAML text of the project's manifest (secrets shown as ``"<redacted>"``), as the original client.

        Raises ``httpx.HTTPStatusError`` when the backend refuses (404: no manifest applied yet).
        """
        resp = self.get(f"/api/v1/projects/{_seg(project_id)}/manifest", params={"version": version})
        resp.raise_for_status()
        config: str = resp.json()["config"]
        return config

    def manifest_history(self, project_id: str) -> Response:
        """Every applied version, newest first: ``{"project_id", "versions": [{"version", "applied_at"}]}``."""
        return self.get(f"/api/v1/projects/{_seg(project_id)}/manifest/history")

    # -- reduce results --------------------------------------------------------------------
    def results(
        self,
        project_id: str,
        reducer: str,
        slicestr: str | None = None,
        begin: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> Response:
        """A reducer's check results per window (``{"reducer", "windows", "series"}``; see docs/engine.md).

        ``slicestr`` None: every slice; ``""``: the global slice. Windows starting in ``[begin, end)``.
        """
        params = {"reducer": reducer, "slice": slicestr, "begin": _as_time(begin), "end": _as_time(end)}
        params = {k: v for k, v in params.items() if v is not None}  # httpx would send None as ""
        return self.get(f"/api/v1/projects/{_seg(project_id)}/results", params=params)

    def profile_reduce(
        self,
        project_id: str,
        profile_name: str,
        profile_version: str,
        begin: datetime | str | None = None,
        end: datetime | str | None = None,
        slicestr: str = "",
    ) -> Response:
        """The production profile of a slice and time range, merged from the reducer's windows.

        Its JSON is a ``ModelProfile``'s: ``reference.contrast(ModelProfile.from_jcr(resp.json()))``.
        """
        params = {"slice": slicestr, "begin": _as_time(begin), "end": _as_time(end)}
        params = {k: v for k, v in params.items() if v is not None}
        ref = f"{profile_name}@{profile_version}"
        return self.get(f"/api/v1/projects/{_seg(project_id)}/profiles/{_seg(ref)}/production", params=params)

    # -- slices ------------------------------------------------------------------------------
    def slices_rank(
        self,
        project_id: str,
        reducer: str,
        metric: str,
        begin: datetime | str | None = None,
        end: datetime | str | None = None,
        space: str | None = None,
        min_n: int | None = None,
    ) -> Response:
        """Every slice of ``reducer`` against the rest of the traffic on ``metric``, worst first (docs/slices.md).

        ``metric``: a score (``MAE``), a numeric component (its mean) or ``<component>-error`` (its
        error rate); ``space``: only that space's slices (``"client"``, ``"client,app"``).
        """
        params = {
            "reducer": reducer,
            "metric": metric,
            "begin": _as_time(begin),
            "end": _as_time(end),
            "space": space,
            "min_n": min_n,
        }
        params = {k: v for k, v in params.items() if v is not None}
        return self.get(f"/api/v1/projects/{_seg(project_id)}/slices/rank", params=params)

    def ab_test(
        self,
        project_id: str,
        reducer: str,
        tag: str,
        a: str,
        b: str,
        begin: datetime | str | None = None,
        end: datetime | str | None = None,
        expected_share_a: float | None = None,
        min_n: int | None = None,
    ) -> Response:
        """Versions ``a`` and ``b`` (values of ``tag``) on every score and component, with the sample-ratio check.

        ``tag="profile"``: ``a`` and ``b`` are two versions of the reducer's profile scoring the
        same traces (shadow deployment): paired tests.
        """
        params = {
            "reducer": reducer,
            "tag": tag,
            "a": a,
            "b": b,
            "begin": _as_time(begin),
            "end": _as_time(end),
            "expected_share_a": expected_share_a,
            "min_n": min_n,
        }
        params = {k: v for k, v in params.items() if v is not None}
        return self.get(f"/api/v1/projects/{_seg(project_id)}/slices/ab", params=params)

    def slices_discover(
        self, project_id: str, reducer: str, metric: str, top: int = 10, refresh: bool = False
    ) -> Response:
        """The worst slices discovery found on ``metric`` (``refresh``: run discovery now first; admin scope)."""
        base = f"/api/v1/projects/{_seg(project_id)}/slices"
        if refresh:
            ran = self.post(f"{base}/discover", params={"reducer": reducer})
            if ran.status_code != 200:
                return ran
        return self.get(f"{base}/discovered", params={"reducer": reducer, "metric": metric, "top": top})

    def slice_promote(
        self, project_id: str, slicestr: str, name: str | None = None, description: str | None = None
    ) -> Response:
        """Track a found slice: the manifest's next version lists it (admin scope)."""
        body = {"slicestr": slicestr, "name": name, "description": description}
        return self.post(
            f"/api/v1/projects/{_seg(project_id)}/slices/promote",
            json={k: v for k, v in body.items() if v is not None},
        )

    # -- issues ------------------------------------------------------------------------------
    def issues_ls(self, project_id: str, status: str | None = None, slicestr: str | None = None) -> Response:
        """``{"issues": [...]}``: open issues first, by priority; ``status`` and ``slicestr`` ("" global) filter."""
        params = {"status": status, "slicestr": slicestr}
        return self.get(f"/api/v1/projects/{_seg(project_id)}/issues", params=params)

    def issue_get(self, project_id: str, issue_id: int) -> Response:
        """One issue with its ``history`` (transitions, acks, mutes, tunings, and the window values behind them)."""
        return self.get(f"/api/v1/projects/{_seg(project_id)}/issues/{_seg(str(issue_id))}")

    def issue_ack(self, project_id: str, issue_id: int) -> Response:
        """Acknowledge an issue: its further events are not notified (it is still evaluated)."""
        return self.post(f"/api/v1/projects/{_seg(project_id)}/issues/{_seg(str(issue_id))}/ack")

    def issue_mute(self, project_id: str, issue_id: int, until: datetime | str | None = None) -> Response:
        """Mute an issue's notifications until ``until`` (None: until muted again with a time)."""
        body = {"until": _as_time(until)}
        return self.post(f"/api/v1/projects/{_seg(project_id)}/issues/{_seg(str(issue_id))}/mute", json=body)

    def issue_tune(
        self,
        project_id: str,
        issue_id: int,
        threshold: float | None = None,
        open_after: int | None = None,
        window_count: int | None = None,
    ) -> Response:
        """Tune when an issue opens: its metric's threshold, ``open_after`` breaches of the last ``window_count``."""
        body = {
            k: v
            for k, v in {
                "threshold": threshold,
                "open_after": open_after,
                "window_count": window_count,
            }.items()
            if v is not None
        }
        return self.post(f"/api/v1/projects/{_seg(project_id)}/issues/{_seg(str(issue_id))}/tune", json=body)

    def alert_deliveries(self, project_id: str, channel: str | None = None) -> Response:
        """The alert delivery log: ``{"deliveries": [{"delivery_id", "channel", "event", "issue_id", "attempt",
        "status_code", "error", "duration_ms", "delivered_at", "next_attempt_at", ...}]}``, one per attempt."""
        params = {"channel": channel} if channel is not None else None
        return self.get(f"/api/v1/projects/{_seg(project_id)}/alerts/deliveries", params=params)

    def alert_redeliver(self, project_id: str, delivery_id: str) -> Response:
        """Send one alert delivery again (same ``webhook-id``); 202 with ``{"delivery_id", "status"}``."""
        return self.post(
            f"/api/v1/projects/{_seg(project_id)}/alerts/deliveries/{_seg(delivery_id)}/redeliver"
        )

    def __repr__(self) -> str:
        return f"RaymonAPI(url={self.url!r})"
