"""Query parameters that keep the promises of their OpenAPI declaration, for every route.

``DateTimeParam`` is a ``date-time`` parameter that means it: an RFC 3339
timestamp with a UTC offset (pydantic alone also takes bare numbers as Unix
times, and dates or times without an offset), inside the years 1 to 9999
once converted to UTC (``0001-01-01T00:00:00+01:00`` is not). A refusal is a
``ValueError`` that ``errors`` words as a 422 naming the parameter.
``UnknownQueryParameters`` refuses a parameter no route declares;
``OriginalQueryNames`` reads the original client's names for ours first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from pydantic import AfterValidator, BeforeValidator
from starlette.responses import JSONResponse

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
DATE_TIME_RULE = "must be an RFC 3339 date-time with a UTC offset, e.g. 2026-06-01T12:00:00Z"


def _rfc3339_text(value: Any) -> Any:
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError(DATE_TIME_RULE)
    return value


def _within_utc_range(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("is out of range once converted to UTC (years 1 to 9999)") from None


DateTimeParam = Annotated[datetime, BeforeValidator(_rfc3339_text), AfterValidator(_within_utc_range)]


class DeclaredQueryNames:
    """The query parameter names each documented route declares, read once from the OpenAPI document."""

    def __init__(self, api: Any) -> None:
        self.api = api  # the FastAPI application whose document declares the parameters
        self._routes: list[tuple[re.Pattern[str], str, frozenset[str]]] | None = None

    def __call__(self, method: str, path: str) -> frozenset[str] | None:
        """The names the route of ``method`` ``path`` takes; ``None`` for a route the document omits."""
        if self._routes is None:
            routes = []
            for route_path, operations in self.api.openapi().get("paths", {}).items():
                pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", route_path) + "$")
                for route_method, operation in operations.items():
                    names = frozenset(
                        p["name"] for p in operation.get("parameters", []) if p["in"] == "query"
                    )
                    routes.append((pattern, route_method.upper(), names))
            self._routes = routes
        for pattern, route_method, names in self._routes:
            if route_method == method and pattern.match(path):
                return names
        return None


class UnknownQueryParameters:
    """ASGI middleware: a query parameter the route does not declare is a 422 naming it (a typo such
    as ``?limt=5`` would otherwise be ignored without a word). The declared names come from the
    OpenAPI document, so they are exactly what /docs lists."""

    def __init__(self, app: Any, api: Any) -> None:
        self.app = app
        self._declared = DeclaredQueryNames(api)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            declared = self._declared(scope["method"], scope["path"])
            if declared is not None:
                given = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                unknown = sorted({name for name, _ in given} - declared)
                if unknown:
                    takes = ", ".join(sorted(declared)) or "none"
                    detail = f"unknown query parameter {unknown[0]!r}: this route takes {takes}"
                    response = JSONResponse({"detail": detail}, status_code=422)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


# The original Raymon client's query names (0.0.39's trace_ls, object_ls, refs_ls) and ours.
ORIGINAL_QUERY_NAMES = {"lim": "limit", "slicestr": "filter"}


class OriginalQueryNames:
    """ASGI middleware: the original client's ``lim`` and ``slicestr`` read as ``limit`` and ``filter``.

    Renamed only on a route that declares the new name and when the new name is not given too
    (then the old one stays, and ``UnknownQueryParameters`` refuses it, naming what the route takes).
    The original's slice strings (``client==Remax && app==v1.0.0``) are tag filter expressions
    already; an empty one means no filter, as it did there. Runs before ``UnknownQueryParameters``.
    """

    def __init__(self, app: Any, api: Any) -> None:
        self.app = app
        self._declared = DeclaredQueryNames(api)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        query = scope.get("query_string") if scope["type"] == "http" else None
        if query and any(old.encode() in query for old in ORIGINAL_QUERY_NAMES):
            given = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            declared = self._declared(scope["method"], scope["path"])
            if declared is not None and any(name in ORIGINAL_QUERY_NAMES for name, _ in given):
                scope = dict(scope, query_string=_renamed(given, declared))
        await self.app(scope, receive, send)


def _renamed(given: list[tuple[str, str]], declared: frozenset[str]) -> bytes:
    """The query string of ``given`` with the original's names read as ours where the route takes them."""
    names = {name for name, _ in given}
    pairs = []
    for name, value in given:
        new = ORIGINAL_QUERY_NAMES.get(name)
        if new is not None and new in declared and new not in names:
            if new == "filter" and not value.strip():
                continue
            name = new
        pairs.append((name, value))
    return urlencode(pairs).encode("ascii")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Text that reaches a column: PostgreSQL cannot store NUL in text (a 500), SQLite would; both refuse it here.
ColumnText = Annotated[str, AfterValidator(_no_nul)]
