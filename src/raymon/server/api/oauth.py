"""The OAuth 2 token endpoint the original Raymon client logs in at (``{auth_url}/oauth/token``).

``POST /oauth/token`` takes the client-credentials grant (RFC 6749 section
4.4) as a form (what the original client sends) or a JSON object, with the
client's credentials in the body or as HTTP Basic; ``client_secret`` is an API
key of the project. It answers ``{"access_token", "token_type": "Bearer",
"expires_in"}``, never cached, or an error in the RFC's shape (section 5.2):
``{"error", "error_description"}``, 401 for ``invalid_client``, 429 with
``Retry-After`` for ``slow_down`` (too many failures from one address), 400
otherwise. ``POST /oauth/device/code`` (the original's interactive login)
answers that this server takes machine credentials only. Both are outside
``/api/v1`` and need no credential of their own; they are documented in
docs/migration.md, not in the OpenAPI document. Thin: parse, call
``services.access_tokens``, answer. Routes never talk SQL.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from raymon.server.api.deps import get_backend
from raymon.server.services import access_tokens
from raymon.server.services.access_tokens import OAuthError, TokenRequest

router = APIRouter(prefix="/oauth", tags=["oauth"], include_in_schema=False)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FIELDS = ("grant_type", "client_id", "client_secret", "audience")


def _error(exc: OAuthError, basic: bool = False) -> JSONResponse:
    headers = dict(_NO_STORE)
    if exc.retry_after:
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status_code == 401 and basic:
        headers["WWW-Authenticate"] = 'Basic realm="raymon"'
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status_code,
        headers=headers,
    )


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from ``Authorization: Basic`` (RFC 6749 section 2.3.1), else None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_request", "the Basic credentials are not base64 of 'id:secret'") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_request", "the Basic credentials are not base64 of 'id:secret'")
    return unquote(client_id), unquote(secret)


async def _fields(request: Request) -> dict[str, str]:
    """The token request's fields, from a form or a JSON object (each a text, at most once)."""
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            body: Any = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise OAuthError("invalid_request", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise OAuthError("invalid_request", "the JSON body must be an object of the request's fields")
        values = {name: body[name] for name in _FIELDS if body.get(name) is not None}
        for name, value in values.items():
            if not isinstance(value, str):
                raise OAuthError("invalid_request", f"{name} must be a text, got {type(value).__name__}")
        return values
    if media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        values = {}
        for name in _FIELDS:
            given = form.getlist(name)
            if len(given) > 1:
                raise OAuthError(
                    "invalid_request", f"{name} is given {len(given)} times (RFC 6749 section 3.2)"
                )
            if given:
                if not isinstance(given[0], str):
                    raise OAuthError("invalid_request", f"{name} must be a text field, not a file")
                values[name] = given[0]
        return values
    raise OAuthError(
        "invalid_request",
        f"Content-Type {media_type or 'none'!r}: send application/x-www-form-urlencoded (or JSON)",
    )


@router.post("/token")
async def token(request: Request) -> JSONResponse:
    """Exchange an API key (``client_secret``) for a short-lived access token (client-credentials grant)."""
    backend = get_backend(request)
    address = request.client.host if request.client else "unknown"
    basic = False
    try:
        fields = await _fields(request)
        credentials = _basic_credentials(request)
        if credentials is not None:
            basic = True
            fields.setdefault("client_id", credentials[0])
            fields.setdefault("client_secret", credentials[1])
        grant_request = TokenRequest(**{name: fields.get(name) for name in _FIELDS})
    except OAuthError as exc:
        backend.token_failures.count(address)
        return _error(exc)
    try:
        grant = await run_in_threadpool(access_tokens.issue_token, backend, grant_request, address)
    except OAuthError as exc:
        return _error(exc, basic)
    return JSONResponse(grant.to_json(), headers=_NO_STORE)


@router.post("/device/code")
def device_code() -> JSONResponse:
    """The original client's interactive login: not offered; the answer says to use machine credentials."""
    return _error(OAuthError("unauthorized_client", access_tokens.MACHINE_CREDENTIALS_HINT))
