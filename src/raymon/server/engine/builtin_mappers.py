"""Raymon's own mappers: ``profile_eval`` (a profile's evaluation of an output and its actual) and ``webhook``.

Both are plain ``hookspecs.Mapper`` functions, registered by ``default_plugins.register_mappers``
exactly as a user's package registers its own, and called by ``engine.mappers.handle_map`` as
``function(inputs, params)`` (inputs: the loaded data types; params: the action's fields plus
``trace_id``, ``project_id`` and, for an action naming a profile, ``model_profile``).

The webhook mapper is the original Raymon's Lambda contract over HTTP: it POSTs the inputs as
jcr and stores the tags the receiver answers, signed per Standard Webhooks (``standardwebhooks``)
when the action has a ``secret``. Network errors, 5xx and 429 are ``RetryLater`` (the engine
retries with backoff, honouring ``Retry-After``); any other answer that is not a list of tags is
``PermanentFailure`` (an error tag on the trace). Neither the URL nor the secret ever appears in
an error message (the engine stores those on the trace and logs them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from raymon.server.engine.jobs import PermanentFailure, RetryLater
from raymon.server.engine.signing import InvalidSecret, signed_headers

RETRY_AFTER_MAX_S = 3600.0
WEBHOOK_USER_AGENT = "raymon-webhook-mapper"


def _data(inputs: Mapping[str, Any], name: str, mapper: str) -> Any:
    if name not in inputs:
        raise PermanentFailure(f"mapper {mapper!r} needs an input named {name!r}, has {sorted(inputs)}")
    return getattr(inputs[name], "data", inputs[name])


def profile_eval(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The profile's ``validate_eval(output, actual)`` on the trace's two objects (one sample)."""
    name = str(params.get("name", "profile_eval"))
    profile = params.get("model_profile")
    if profile is None:
        raise PermanentFailure(f"mapper {name!r} (profile_eval) names no profile: set profile: name@version")
    output, actual = _data(inputs, "output", name), _data(inputs, "actual", name)
    tags: list[dict[str, Any]] = profile.validate_eval(output, actual, batch=False)
    return tags


def webhook_message_id(project_id: str, mapper: str, trace_id: str) -> str:
    """The ``webhook-id`` of a mapper's request for a trace: the same on every retry, so receivers can de-duplicate."""
    digest = hashlib.blake2b(f"{project_id}\0{mapper}\0{trace_id}".encode(), digest_size=16).hexdigest()
    return f"map_{digest}"


def webhook_request(
    inputs: Mapping[str, Any], params: Mapping[str, Any], now: datetime
) -> tuple[bytes, dict[str, str]]:
    """The body and headers the webhook mapper sends (signed when ``params`` has a ``secret``)."""
    mapper = str(params["name"])
    body = orjson.dumps(
        {
            "trace_id": params["trace_id"],
            "project_id": params["project_id"],
            "mapper": mapper,
            "inputs": {name: obj.to_jcr() for name, obj in inputs.items()},
        }
    )
    msg_id = webhook_message_id(str(params["project_id"]), mapper, str(params["trace_id"]))
    try:
        headers = signed_headers(params.get("secret") or None, msg_id, now, body)
    except InvalidSecret:
        raise PermanentFailure(f"mapper {mapper!r}: the webhook secret is not a valid whsec_ key") from None
    headers["user-agent"] = WEBHOOK_USER_AGENT
    return body, headers


def webhook(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> list[Any]:
    """POST the inputs (jcr) to the action's ``url``; answer the tags the receiver sends back."""
    mapper = str(params.get("name", "webhook"))
    url = params.get("url")
    if not url:
        raise PermanentFailure(f"mapper {mapper!r} (webhook) has no url")
    timeout_s = float(params.get("timeout_s") or 10.0)
    body, headers = webhook_request(inputs, params, datetime.now(UTC))
    try:
        response = httpx.post(
            str(url), content=body, headers=headers, timeout=timeout_s, follow_redirects=False
        )
    except httpx.TimeoutException:
        raise RetryLater(f"the webhook did not answer within timeout_s={timeout_s:g}") from None
    except httpx.TransportError as exc:
        raise RetryLater(f"the webhook could not be reached ({type(exc).__name__})") from None
    status = response.status_code
    if status == 429 or status >= 500:
        raise RetryLater(
            f"the webhook answered HTTP {status}", retry_after_s(response.headers.get("retry-after"))
        )
    if not 200 <= status < 300:
        raise PermanentFailure(f"the webhook answered HTTP {status}")
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise PermanentFailure(
            f"the webhook answered HTTP {status} with a body that is not JSON (expected a list of tags)"
        ) from None
    if isinstance(answer, dict) and isinstance(answer.get("tags"), list):
        answer = answer["tags"]
    if not isinstance(answer, list):
        raise PermanentFailure(
            f"the webhook answered a JSON {type(answer).__name__}, not a list of tags "
            '(e.g. [{"name": "score", "value": 1.5, "type": "metric"}])'
        )
    return answer


def retry_after_s(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now, capped; None if absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)
