"""Model profiles stored by the backend, one JSON document per ``name@version`` and project.

A profile is what ``ModelProfile.to_jcr()`` answers; the backend keeps it as
given and only checks that it names itself (``name`` and ``version``, or a
``name`` written ``name@version``). A stored version is never overwritten:
sending the same document again is a no-op, a different one under the same
``name@version`` is refused (publish a new version instead), so reducers and
reports that refer to ``name@version`` always mean the same thing. A saved
``ModelProfile`` (a document with ``profile_format``) must load with the classes
the server's plugins registered: one naming any other extractor or score class
is refused and nothing it names is imported. A document the stores cannot hold
alike is refused naming why: a NUL character (U+0000; PostgreSQL's jsonb has
none) in any string or key, nesting past the 254 levels orjson writes, an
integer over 64 bits. This module never parses HTTP and runs no SQL
(``store.profiles`` does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from raymon import profile_names
from raymon.exceptions import ProfileNameError
from raymon.server.services.errors import ConflictError, InvalidInputError, NotFoundError
from raymon.server.store import profiles as profile_store
from raymon.server.store.profiles import ProfileExists, ProfileRow

if TYPE_CHECKING:
    from raymon.server.backend import Backend
    from raymon.server.plugins import Plugins

_T = TypeVar("_T")


def _named(check: Callable[..., _T], *args: Any) -> _T:
    """A check of ``raymon.profile_names`` (the client's rule), its refusal as a 422."""
    try:
        return check(*args)
    except ProfileNameError as exc:
        raise InvalidInputError(str(exc)) from exc


def parse_profile_ref(ref: str) -> tuple[str, str]:
    """Split ``"name@version"`` and check both parts; ``InvalidInputError`` names what is wrong."""
    return _named(profile_names.parse_profile_ref, ref)


def profile_identity(body: Any) -> tuple[str, str]:
    """The ``(name, version)`` a profile document names itself by.

    Accepts ``{"name": "n", "version": "v", ...}``, ``{"name": "n@v", ...}``, and the same
    inside a jcr's ``params`` (``{"type": ..., "params": {"name": ..., ...}}``).
    """
    if not isinstance(body, dict):
        raise InvalidInputError(f"a profile must be a JSON object, got {type(body).__name__}")
    source = body
    if "name" not in body and isinstance(body.get("params"), dict):
        source = body["params"]
    name = source.get("name")
    version = source.get("version")
    if name is None:
        raise InvalidInputError(
            "a profile needs a 'name' (and a 'version', or a name written 'name@version')"
        )
    if version is None:
        if not isinstance(name, str) or "@" not in name:
            raise InvalidInputError(
                f"profile {name!r} has no 'version': add one or write the name as 'name@version'"
            )
        return parse_profile_ref(name)
    if isinstance(name, str) and "@" in name:
        given_name, given_version = parse_profile_ref(name)
        if given_version != _named(profile_names.check_profile_version, version):
            raise InvalidInputError(
                f"profile name {name!r} says version {given_version!r} but 'version' is {version!r}"
            )
        return given_name, given_version
    return _named(profile_names.check_profile_ref, name, version)


def _summary(row: ProfileRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "ref": f"{row.name}@{row.version}",
        "created_at": row.created_at.isoformat(timespec="microseconds"),
    }


def create_profile(backend: Backend, project_id: str, body: Any) -> tuple[dict[str, Any], bool]:
    """Store a profile; answers its summary and whether it was new (False: the identical one was there)."""
    name, version = profile_identity(body)
    size = len(_storable_json(body, f"profile {name}@{version}"))
    max_bytes = backend.settings.profile_limit
    if size > max_bytes:
        raise InvalidInputError(
            f"profile {name}@{version} is {size} bytes, over the limit max_profile_bytes={max_bytes} "
            "(RAYMON_MAX_PROFILE_BYTES)"
        )
    if "profile_format" in body:
        _check_loads(backend.plugins, body)
    existing = _find(backend, project_id, name, version)
    if existing is not None:
        return _same_or_conflict(existing, body)
    try:
        with backend.writing() as session:
            row = profile_store.insert(session, project_id, name, version, body)
    except ProfileExists:  # another request stored the same name@version just now
        existing = _find(backend, project_id, name, version)
        if existing is None:
            raise
        return _same_or_conflict(existing, body)
    return _summary(row), True


def create_profile_at(
    backend: Backend, project_id: str, name: str, version: str, body: Any
) -> tuple[dict[str, Any], bool]:
    """``create_profile`` for a document posted under ``name``/``version`` (the original client's route).

    The document must name itself so too: a document of another name@version is refused, naming both.
    """
    path_name, path_version = _named(profile_names.check_profile_ref, name, version)
    body_name, body_version = profile_identity(body)
    if (body_name, body_version) != (path_name, path_version):
        raise InvalidInputError(
            f"the profile names itself {body_name}@{body_version} but was posted to "
            f"{path_name}/{path_version}: post it to its own name and version"
        )
    return create_profile(backend, project_id, body)


def _storable_json(body: Any, what: str) -> bytes:
    """``body`` as JSON bytes, or ``InvalidInputError`` for what a store (or orjson) cannot hold."""
    try:
        dumped = orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        reason = (
            "is nested deeper than the 254 levels that can be stored"
            if "recursion" in str(exc).lower()
            else f"cannot be stored as JSON ({exc})"
        )
        raise InvalidInputError(f"{what} {reason}") from None
    if b"\\u0000" in dumped:  # orjson writes U+0000 escaped; a literal backslash+u0000 finds no path
        path = _nul_path(body)
        if path is not None:
            raise InvalidInputError(
                f"{what}: {path} contains a NUL character (U+0000), which cannot be stored"
            )
    return dumped


def _nul_path(document: Any) -> str | None:
    """Where the first string or key holding U+0000 is (``params.columns[2].name``), else None."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path or "the document"
        elif isinstance(value, dict):
            for key, item in value.items():
                key_path = f"{path}.{key}" if path else str(key)
                if "\x00" in str(key):
                    return f"the key {key_path!r}"
                stack.append((key_path, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


def _check_loads(plugins: Plugins, body: dict[str, Any]) -> None:
    """Refuse a saved ModelProfile that does not load with the registered classes (nothing is imported)."""
    from raymon.profiling.errors import ProfileError

    try:
        plugins.load_profile(body)
    except ProfileError as exc:
        raise InvalidInputError(
            f"profile {body.get('name')!r} cannot be loaded on this server: {exc}"
        ) from exc


def _comparable(value: Any) -> Any:
    """``value`` with every number a float: PostgreSQL's jsonb gives 3.12e16 back as 31200000000000000."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _same_or_conflict(existing: ProfileRow, body: Any) -> tuple[dict[str, Any], bool]:
    """The stored profile if ``body`` is the same document (numbers compared as numbers), else 409."""
    if orjson.dumps(_comparable(existing.body), option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        _comparable(body), option=orjson.OPT_SORT_KEYS
    ):
        return _summary(existing), False
    raise ConflictError(
        f"profile {existing.name}@{existing.version} exists with different content; "
        "store the new one under a new version"
    )


def _find(backend: Backend, project_id: str, name: str, version: str) -> ProfileRow | None:
    with backend.reading() as session:
        return profile_store.find(session, project_id, name, version)


def list_profiles(backend: Backend, project_id: str, name: str | None = None) -> list[dict[str, Any]]:
    """Every stored profile of the project (optionally of one name), by name then creation time."""
    checked = None if name is None else _named(profile_names.check_profile_name, name)
    with backend.reading() as session:
        rows = profile_store.list_all(session, project_id, checked)
    return [_summary(row) for row in rows]


def get_profile(backend: Backend, project_id: str, ref: str) -> Any:
    """The stored JSON document of ``name@version``."""
    name, version = parse_profile_ref(ref)
    row = _find(backend, project_id, name, version)
    if row is None:
        raise NotFoundError(f"profile {name}@{version} not found in project {project_id!r}")
    return row.body
