"""The OpenAPI document (/openapi.json): FastAPI's, completed from the route table in one place.

What FastAPI cannot see from the route signatures is added here, so no route
decorator needs to repeat it and a new route gets it by the same rules:

- the bearer-key security scheme, and ``security`` on every operation whose
  dependencies demand a scope (``deps.required_scopes``), the scope named in
  its description: Swagger UI's "Authorize" then sends the key;
- every 4xx answer an operation can give, each with the one ``Error`` schema
  (``errors.Error``) instead of FastAPI's ``HTTPValidationError``;
- the ingest routes' request bodies (an event or an array of events as JSON,
  or NDJSON; the wire format's JSON Schema, ``raymon/schema/event.schema.json``)
  and their answers (``IngestResult``); the export's media types; the success
  statuses that a route sets at run time.

It never changes what a route does: only how the document describes it.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from raymon import profile_names
from raymon.server.api.deps import required_scopes
from raymon.server.api.errors import Error
from raymon.server.services import auth
from raymon.server.services.text_params import TEXT_PARAM_MAX

SECURITY_SCHEME = "apiKey"
ERROR_REF = {"$ref": "#/components/schemas/Error"}
NDJSON = "application/x-ndjson"
PARQUET = "application/vnd.apache.parquet"

_REASONS = {
    400: "The request cannot be read (e.g. a body that cannot be decompressed or decoded)",
    401: "No usable credential: send `Authorization: Bearer <API key>`",
    403: "The key has no access to this project, or lacks the scope",
    404: "The named thing does not exist in this project",
    409: "It exists already (with different content)",
    413: "The body is over a configured limit (the answer names the setting)",
    415: "The body's Content-Type or Content-Encoding is not one this route reads",
    422: "A parameter or the body breaks a rule (the answer names it, the rule and the value)",
    429: "The server is busy: retry after `Retry-After` seconds",
}
_INGEST_ROUTES = {"ingest", "ingest_batch"}
# Statuses a route sets at run time besides its decorator's, and 4xx only some routes give.
_EXTRA_SUCCESS = {"profile_create": [200], "user_invite": [201]}
_EXTRA_ERRORS = {
    "project_create": {409},
    "profile_create": {409},
    "profile_production": {409},  # a stored profile that is not built cannot be reduced
    "user_invite": {409},
    "object_search": {404},
    "export_dataset": {404},
    "ingest": {400, 413, 415, 429},
    "ingest_batch": {400, 413, 415, 429},
    "manifest_apply": {415},
    "manifest_get": {404},
    # slice analytics: a reducer whose profile is not stored (404) or not built (409); no data for an arm (404)
    "slices_rank": {404, 409},
    "slices_ab": {404, 409},
    "slices_discovered": {404, 409},
    "slices_discover_now": {404, 409},
    "slices_promote": {404, 409},
}
_STREAMED = {
    "export_dataset": {
        NDJSON: {"schema": {"type": "string"}, "example": '{"trace_id": "t1", "tags": [], "data": {}}\n'},
        PARQUET: {"schema": {"type": "string", "format": "binary"}},
    },
}

INGEST_RESULT = {
    "type": "object",
    "required": ["accepted", "duplicates", "conflicts", "rejected"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 0, "description": "Events stored by this request"},
        "duplicates": {"type": "integer", "minimum": 0, "description": "Events stored before (same id)"},
        "conflicts": {
            "type": "array",
            "description": "Each event whose id was stored before with a different content (not stored)",
            "items": {
                "type": "object",
                "required": ["index", "event_id", "error"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "event_id": {"type": "string"},
                    "error": {"type": "string"},
                },
            },
        },
        "rejected": {
            "type": "array",
            "description": "Each refused record: its 0-based index in the body and why",
            "items": {
                "type": "object",
                "required": ["index", "error"],
                "properties": {"index": {"type": "integer", "minimum": 0}, "error": {"type": "string"}},
            },
        },
    },
}
INGEST_DESCRIPTION = (
    "The body is one wire-format event (docs/wire-format.md), a JSON array of records, or NDJSON "
    "(one record a line, `Content-Type: application/x-ndjson`), optionally `Content-Encoding: gzip`. "
    "Besides events, a record may be a log shipper's record (the event with the shipper's fields next "
    "to it, or the file logger's line under `log` or `message`; docs/shipping.md) or one of the original "
    "Raymon client's records; the schema below describes the events. Each record is judged on its own: "
    "200 when all were stored (now or before), 207 when some were refused, 422 when all were."
)
MANIFEST_REFUSAL = {
    "type": "object",
    "description": "Error's detail, and when the manifest itself was refused, its every error",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "The errors in one sentence"},
        "errors": {
            "type": "array",
            "description": "Every error of the manifest, where it is written (1-based line and column)",
            "items": {
                "type": "object",
                "required": ["path", "line", "column", "message"],
                "properties": {
                    "path": {"type": "string", "description": "e.g. actions.map[0].mapper_type"},
                    "line": {"type": "integer", "minimum": 1},
                    "column": {"type": "integer", "minimum": 1},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
EXAMPLE_EVENT = {
    "v": 1,
    "event_id": "0b1c6f4e-8f0e-4a57-9b8e-0d5f2f0c3a11",
    "project_id": "<the project of the URL>",
    "trace_id": "request-1",
    "ts": "2026-06-01T12:00:00Z",
    "kind": "text",
    "level": "info",
    "message": "hello from the API docs",
}


# The rules the services apply, stated in the document (the route signatures only type the values), so
# that a request the document calls valid is one the server takes. Built from the services' own constants.
_NO_NUL = "^[^\\u0000]*$"
_PROFILE_PART = f"[A-Za-z0-9_\\-.:+]{{1,{profile_names.PART_MAX_LEN}}}"
_PROFILE_VERSION = f"[A-Za-z0-9_\\-.:+]{{1,{profile_names.PART_MAX_LEN}}}"
# Python's \\s (the server's) also takes U+001C-U+001F and U+0085, which JSON Schema's (ECMA's) does not.
_EMAIL_PART = "[^@\\s\\u0000\\u001c-\\u001f\\u0085]+"
_EMAIL = {"type": "string", "maxLength": 320, "pattern": f"^\\s*{_EMAIL_PART}@{_EMAIL_PART}\\s*$"}
_ROLE = {"type": "string", "enum": list(auth.ROLES)}
_SCOPE_LIST = f"^\\s*({'|'.join(auth.SCOPES)})\\s*(,\\s*({'|'.join(auth.SCOPES)})\\s*)*$"
_BODY_FIELD_RULES: dict[str, dict[str, Any]] = {
    "ProjectCreate": {
        "name": {"type": "string", "maxLength": 256, "pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"},
        "project_id": {"anyOf": [{"$ref": "#/components/schemas/Event_project_id"}, {"type": "null"}]},
    },
    "KeyCreate": {
        "name": {"type": "string", "pattern": _NO_NUL, "default": ""},
        "scopes": {
            "anyOf": [
                {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(auth.SCOPES)}},
                {"type": "string", "pattern": _SCOPE_LIST},
            ]
        },
    },
    "UserInvite": {
        "email": _EMAIL,
        "role": {**_ROLE, "default": "viewer"},
    },
    "InvitationAccept": {
        "email": _EMAIL,
        "password": {"type": "string", "minLength": auth.MIN_PASSWORD_LENGTH},
    },
    "RoleSet": {"role": _ROLE},
}
_PARAM_RULES: dict[str, dict[str, Any]] = {
    "email": _EMAIL,
    "profile_ref": {"type": "string", "pattern": f"^{_PROFILE_PART}@{_PROFILE_VERSION}$"},
    # Ids of keys and invitations: the services check them (text_params.check_text, at most 64).
    "key_id": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": _NO_NUL},
    "invitation_id": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": _NO_NUL},
    # An empty cursor is the first page.
    "cursor": {"type": "string", "pattern": "^[A-Za-z0-9_-]*=*$", "maxLength": TEXT_PARAM_MAX},
}
_PROFILE_LIST_NAME = {"type": "string", "pattern": f"^{_PROFILE_PART}$"}
# Any JSON without NUL in a string or a key (PostgreSQL's jsonb cannot hold U+0000; the service refuses it).
NO_NUL_JSON = {
    "anyOf": [
        {"type": "string", "pattern": _NO_NUL},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": {"$ref": "#/components/schemas/NoNulJson"}},
        {
            "type": "object",
            "propertyNames": {"pattern": _NO_NUL},
            "additionalProperties": {"$ref": "#/components/schemas/NoNulJson"},
        },
    ]
}
_PROFILE_BODY = {
    "type": "object",
    "propertyNames": {"pattern": _NO_NUL},
    "additionalProperties": {"$ref": "#/components/schemas/NoNulJson"},
    "description": "A profile's JSON (ModelProfile.to_jcr()): it names itself by name and version, "
    "or by a name written name@version, at the top or inside its jcr's params",
    "anyOf": [
        {
            "required": ["name", "version"],
            "properties": {
                "name": {"type": "string", "pattern": f"^{_PROFILE_PART}$"},
                "version": {"type": "string", "pattern": f"^{_PROFILE_VERSION}$"},
            },
        },
        {
            "required": ["name"],
            "not": {"required": ["version"]},
            "properties": {"name": {"type": "string", "pattern": f"^{_PROFILE_PART}@{_PROFILE_VERSION}$"}},
        },
    ],
}


def _state_rules(operation: dict[str, Any], name: str) -> None:
    """Give the operation's text parameters the rules the server applies to them."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        rule = _PARAM_RULES.get(parameter["name"])
        if name == "profile_list" and parameter["name"] == "name":
            rule = _PROFILE_LIST_NAME
        if rule is not None:
            parameter["schema"] = _with_rule(schema, rule)
        elif _is_text(schema):  # reading.checked_text: no NUL, at most TEXT_PARAM_MAX characters
            parameter["schema"] = _with_rule(
                schema, {"type": "string", "maxLength": TEXT_PARAM_MAX, "pattern": _NO_NUL}
            )
    if name == "profile_create":
        content = operation["requestBody"]["content"]["application/json"]
        content["schema"] = {**_PROFILE_BODY, **{k: v for k, v in content["schema"].items() if k == "title"}}


def _is_text(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
        return True
    options = schema.get("anyOf", [])
    return any(_is_text(option) for option in options) and all(
        _is_text(option) or option.get("type") == "null" for option in options
    )


def _with_rule(schema: dict[str, Any], rule: dict[str, Any]) -> dict[str, Any]:
    """``rule`` in place of the string type of ``schema`` (kept nullable when it was), keeping its notes."""
    notes = {k: v for k, v in schema.items() if k in ("title", "description", "default")}
    if any(option.get("type") == "null" for option in schema.get("anyOf", [])):
        return {"anyOf": [rule, {"type": "null"}], **notes}
    return {**rule, **notes}


def wire_schemas() -> dict[str, Any]:
    """The wire format's JSON Schema as OpenAPI components: ``Event`` and its ``$defs`` as ``Event_<name>``."""
    raw = json.loads(resources.files("raymon").joinpath("schema/event.schema.json").read_text())
    defs = raw.pop("$defs", {})
    for key in ("$schema", "$id"):
        raw.pop(key, None)
    components = {"Event": raw, **{f"Event_{name}": schema for name, schema in defs.items()}}
    text = json.dumps(components).replace('"#/$defs/', '"#/components/schemas/Event_')
    result: dict[str, Any] = json.loads(text)
    return result


def _error_response(status: int) -> dict[str, Any]:
    return {"description": _REASONS[status], "content": {"application/json": {"schema": ERROR_REF}}}


def _document_operation(operation: dict[str, Any], route: APIRoute, path: str) -> None:
    name = route.name
    scopes = sorted(set(required_scopes(route.dependant)))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    errors: set[int] = set(_EXTRA_ERRORS.get(name, set()))
    if scopes:
        operation["security"] = [{SECURITY_SCHEME: []}]
        needed = " and ".join(f"`{scope}`" for scope in scopes)
        where = "in the project of the URL" if "{project_id}" in path else "in some project"
        note = f"**Needs** an API key with the {needed} scope {where} (`admin` implies every scope)."
        operation["description"] = f"{operation.get('description', '').rstrip()}\n\n{note}".strip()
        errors |= {401, 403}
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        errors.add(422)
    if any(p["in"] == "path" and p["name"] != "project_id" for p in parameters):
        errors.add(404)  # something besides the project is named, and may not exist
    if "requestBody" in operation:
        errors |= {400, 413}
    for status in _EXTRA_SUCCESS.get(name, []):
        responses.setdefault(str(status), copy.deepcopy(next(iter(responses.values()))))
    for status in sorted(errors):
        responses[str(status)] = _error_response(status)
    if name in _STREAMED:
        responses["200"]["content"] = copy.deepcopy(_STREAMED[name])
    if name in _INGEST_ROUTES:
        _document_ingest(operation)
    if name == "manifest_apply":
        responses["422"] = {
            "description": "The manifest was refused (every error listed); the previous one stays in force",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ManifestRefusal"}}},
        }
    _state_rules(operation, name)


def _document_ingest(operation: dict[str, Any]) -> None:
    events = {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}
    operation["description"] = f"{INGEST_DESCRIPTION}\n\n{operation.get('description', '')}".strip()
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [{"$ref": "#/components/schemas/Event"}, events]},
                "example": EXAMPLE_EVENT,
            },
            NDJSON: {"schema": events, "description": "one event (or record) a line"},
        },
    }
    result = {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}}
    responses = operation["responses"]
    responses["200"] = {"description": "Every record was stored, now or before", "content": result}
    responses["207"] = {
        "description": "Some records were refused (listed), the others stored",
        "content": result,
    }
    responses["422"] = {"description": "Every record was refused (nothing stored)", "content": result}


def document(schema: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """Complete FastAPI's document of ``app`` in place (see the module docstring); answer it."""
    components = schema.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = Error.model_json_schema()
    schemas["IngestResult"] = INGEST_RESULT
    schemas["NoNulJson"] = NO_NUL_JSON
    schemas["ManifestRefusal"] = MANIFEST_REFUSAL
    schemas.update(wire_schemas())
    for model, fields in _BODY_FIELD_RULES.items():
        properties = schemas[model]["properties"]
        for field, rule in fields.items():
            notes = {k: v for k, v in properties[field].items() if k in ("title", "description", "default")}
            properties[field] = {**rule, **notes}
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`rmn_...`) of the project, with the scope the operation needs "
            "(`ingest`, `read` or `admin`; `admin` implies the others). Made by `raymon key create` "
            "or `POST /api/v1/projects/{project_id}/keys`.",
        }
    }
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema or not context.path:
            continue
        for method in context.methods or ():
            operation = schema.get("paths", {}).get(context.path, {}).get(method.lower())
            if operation is not None:
                _document_operation(operation, route, context.path)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at ``app.openapi_url`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document(schema, app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
