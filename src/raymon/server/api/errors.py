"""One error shape for every answer that is not a success: ``{"detail": "<what is wrong>"}``.

FastAPI answers a bad parameter or body with its own list of validation
errors (``{"detail": [{"type", "loc", "msg", ...}]}``); here that list becomes
one sentence naming the parameter, the rule and the value, e.g. ``query
parameter 'limit': must be <= 1000, got 5000``. A 405 carries ``Allow`` with
every method the path supports (Starlette names only the first route's). The
``Error`` model is the schema the OpenAPI document gives every 4xx answer.
This module never decides whether a request is valid: it only words the
refusals that the routes' declarations, FastAPI and Starlette make.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path

SHOWN_VALUE_MAX = 80
_WHERE = {"query": "query parameter", "path": "path parameter", "header": "header", "cookie": "cookie"}
_DATE_TIME_RULE = "must be an RFC 3339 date-time with a UTC offset, e.g. 2026-06-01T12:00:00Z"


class Error(BaseModel):
    """Every refusal: 400, 401, 403, 404, 405, 409, 413, 415, 422 (outside ingest) and 429."""

    detail: str = Field(
        ..., description="What was wrong, naming the parameter, the value, the rule or the setting"
    )


def _rule(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    bounds = {"less_than_equal": "<=", "less_than": "<", "greater_than_equal": ">=", "greater_than": ">"}
    if kind in bounds:
        limit = next(iter(ctx.values()), "?")
        return f"must be {bounds[kind]} {limit}"
    if kind == "missing":
        return "is required"
    if kind.startswith("int_"):
        return "must be an integer"
    if kind.startswith("float_"):
        return "must be a number"
    if kind.startswith("bool_"):
        return "must be true or false"
    if kind.startswith(("datetime_", "date_", "timezone_")):
        return _DATE_TIME_RULE
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '?')}"
    if kind == "string_too_short":
        return f"must be at least {ctx.get('min_length')} characters long"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "string_type":
        return "must be a string"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a JSON object"
    if kind == "list_type":
        return "must be a JSON array"
    if kind == "json_invalid":
        return f"is not valid JSON ({ctx.get('error', 'cannot be parsed')})"
    message = str(error.get("msg", "is not valid"))
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _shown(value: Any) -> str | None:
    """The offending value as it should appear in the message (None: not worth showing)."""
    if isinstance(value, dict | list) or value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, str) and (not value or value.strip() != value or len(value) > SHOWN_VALUE_MAX):
        text = repr(value[:SHOWN_VALUE_MAX]) + ("..." if len(value) > SHOWN_VALUE_MAX else "")
    return text


def _subject(loc: Sequence[Any]) -> str:
    where, names = (str(loc[0]), [str(part) for part in loc[1:]]) if loc else ("body", [])
    if where == "body":
        return f"body field '{'.'.join(names)}'" if names else "the request body"
    return f"{_WHERE.get(where, where)} '{'.'.join(names)}'"


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one sentence: ``query parameter 'limit': must be <= 1000, got 5000``."""
    parts = []
    for error in errors:
        loc: Sequence[Any] = error.get("loc") or ()
        if error.get("type") == "json_invalid":  # loc is ("body", character offset)
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            text = f"the request body: {_rule(error)}{where}"
        else:
            text = f"{_subject(loc)}: {_rule(error)}"
        shown = _shown(error.get("input")) if error.get("type") != "missing" else None
        if shown is not None and error.get("type") not in ("json_invalid",):
            text += f", got {shown}"
        if text not in parts:
            parts.append(text)
    return "; ".join(parts) or "the request is not valid"


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route answers on the request's path, in a stable order."""
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):  # included routers flattened
        if route.path and route.methods and compile_path(route.path)[0].match(request.scope["path"]):
            methods.update(route.methods)
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return sorted(methods, key=lambda m: (order.index(m) if m in order else len(order), m))


def install_error_handlers(app: FastAPI) -> None:
    """Answer validation errors and 405s in the one shape (other HTTP errors are that shape already)."""

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_validation_errors(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            allow = ", ".join(allowed_methods(app, request))
            detail = f"{request.method} is not allowed on {request.url.path}: use {allow}"
            return JSONResponse({"detail": detail}, status_code=405, headers={"Allow": allow})
        return await http_exception_handler(request, exc)
