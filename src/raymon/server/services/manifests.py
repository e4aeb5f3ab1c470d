"""A project's manifest: apply a new version, answer the current one (cached), show versions redacted.

- ``apply_manifest(backend, project_id, yaml_text)`` checks the text
  (``manifest_checks``: every error at once, ``ManifestRefused``) and stores it
  as the project's next version; a refused manifest changes nothing, the
  previous one stays in force. The same text as the current version again is
  no new version (``changed`` false).
- ``current(backend, project_id)`` is what the engine asks per ingest batch: the
  project's ``Manifest`` or None, from a per-backend cache that re-reads the
  latest version number at most every ``CURRENT_TTL_S`` seconds (so an apply
  by another process, a server or worker on the same PostgreSQL, is seen within
  that), and is dropped at once by an apply in this process.
- ``shown`` and ``history`` answer the API: the YAML text with every secret
  (``SECRET_FIELDS``: alert webhooks, urls and secrets, webhook-mapper urls and
  secrets) replaced by ``"<redacted>"``, keeping the text valid YAML; applying
  that text again keeps the stored secrets.

This module never parses HTTP, runs no SQL (``store.manifests`` does) and never
logs a manifest's text.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from raymon.server.engine.manifest import Manifest
from raymon.server.services.errors import NotFoundError
from raymon.server.services.manifest_checks import (
    REDACTED,
    SECRET_FIELDS,
    ManifestError,
    ManifestRefused,
    check_manifest,
)
from raymon.server.services.manifest_yaml import Path, YamlProblem, load, quoted, replace_scalars
from raymon.server.store import accounts as account_store
from raymon.server.store import manifests as manifest_store
from raymon.server.store import profiles as profile_store
from raymon.server.store.manifests import ManifestRow, VersionTaken

if TYPE_CHECKING:
    from raymon.server.backend import Backend

__all__ = [
    "CURRENT_TTL_S",
    "REDACTED",
    "ManifestError",
    "ManifestRefused",
    "AppliedManifest",
    "apply_manifest",
    "current",
    "shown",
    "history",
    "redact",
]

CURRENT_TTL_S = 0.5
_APPLY_ATTEMPTS = 5
_MIN_SECRET_LEN = 8  # shorter values are not hunted for elsewhere in the text (they would hit words)


@dataclass(frozen=True)
class AppliedManifest:
    project_id: str
    version: int
    applied_at: datetime
    changed: bool
    config: str  # the YAML text, redacted

    def as_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "version": self.version,
            "applied_at": self.applied_at.isoformat(timespec="microseconds"),
            "changed": self.changed,
            "config": self.config,
        }


def apply_manifest(backend: Backend, project_id: str, yaml_text: str) -> AppliedManifest:
    """Check ``yaml_text`` and store it as the project's next version (``ManifestRefused`` when it is bad)."""
    for _ in range(_APPLY_ATTEMPTS):
        with backend.reading() as session:
            if account_store.get_project(session, project_id) is None:
                raise NotFoundError(f"no project {project_id!r}")
            previous_row = manifest_store.latest(session, project_id)
            profiles = {f"{p.name}@{p.version}" for p in profile_store.list_all(session, project_id)}
        previous = _model(previous_row)
        checked = check_manifest(
            yaml_text, project_id, plugins=backend.plugins, profiles=profiles, previous=previous
        )
        if previous_row is not None and previous_row.source == checked.source:
            return _applied(previous_row, changed=False)
        parsed = checked.manifest.model_dump(mode="json")
        try:
            with backend.writing() as session:
                row = manifest_store.insert_next(session, project_id, checked.source, parsed, backend.clock())
        except VersionTaken:
            continue  # another apply of this project committed first: check again against it
        _forget(backend, project_id)
        return _applied(row, changed=True)
    raise RuntimeError(
        f"could not apply the manifest of {project_id!r}: {_APPLY_ATTEMPTS} concurrent applies"
    )


def _applied(row: ManifestRow, *, changed: bool) -> AppliedManifest:
    return AppliedManifest(row.project_id, row.version, row.created_at, changed, redact(row.source))


def _model(row: ManifestRow | None) -> Manifest | None:
    return None if row is None else Manifest.model_validate(row.parsed)


# --- the cached current manifest ------------------------------------------------------------------


class _Cached(NamedTuple):
    version: int | None
    manifest: Manifest | None
    checked_at: float  # time.monotonic()


class _ManifestCache:
    def __init__(self) -> None:
        self.entries: dict[str, _Cached] = {}
        self.lock = threading.Lock()


_CACHES: weakref.WeakKeyDictionary[Backend, _ManifestCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache(backend: Backend) -> _ManifestCache:
    cache = _CACHES.get(backend)
    if cache is None:
        with _CACHES_LOCK:
            cache = _CACHES.setdefault(backend, _ManifestCache())
    return cache


def _forget(backend: Backend, project_id: str) -> None:
    """Drop this process's cached manifest of the project (after an apply, or the project's deletion)."""
    cache = _cache(backend)
    with cache.lock:
        cache.entries.pop(project_id, None)


forget = _forget


def current(backend: Backend, project_id: str) -> Manifest | None:
    """The project's manifest in force (None: never applied); at most ``CURRENT_TTL_S`` seconds stale."""
    cache = _cache(backend)
    now = time.monotonic()
    entry = cache.entries.get(project_id)
    if entry is not None and now - entry.checked_at < CURRENT_TTL_S:
        return entry.manifest
    with backend.reading() as session:
        version = manifest_store.latest_version(session, project_id)
        if entry is not None and entry.version == version:
            fresh = entry._replace(checked_at=now)
        else:
            row = None if version is None else manifest_store.find(session, project_id, version)
            fresh = _Cached(version, _model(row), now)
    with cache.lock:
        cache.entries[project_id] = fresh
    return fresh.manifest


# --- what is shown: redacted ---------------------------------------------------------------------


def redact(source: str) -> str:
    """``source`` with every secret value replaced by ``"<redacted>"`` (still valid YAML, comments kept)."""
    try:
        loaded = load(source)
    except YamlProblem:
        return "# the stored manifest cannot be shown\n"
    replacements: dict[Path, str] = {}
    secrets: set[str] = set()
    actions = loaded.data.get("actions") if isinstance(loaded.data, dict) else None
    if isinstance(actions, dict):
        for kind, fields in SECRET_FIELDS.items():
            items = actions.get(kind)
            for i, action in enumerate(items if isinstance(items, list) else []):
                if not isinstance(action, dict):
                    continue
                for field in fields:
                    value = action.get(field)
                    if value is None or value == REDACTED:
                        continue
                    replacements[("actions", kind, i, field)] = quoted(REDACTED)
                    if isinstance(value, str) and len(value) >= _MIN_SECRET_LEN:
                        secrets.add(value)
    text = replace_scalars(source, loaded, replacements)
    for secret in sorted(secrets, key=len, reverse=True):  # also in comments and other values
        text = text.replace(secret, REDACTED)
    return text


def shown(backend: Backend, project_id: str, version: int | None = None) -> dict[str, Any]:
    """The current (or one) version: ``{"project_id", "version", "applied_at", "config"}``, redacted."""
    with backend.reading() as session:
        if version is None:
            row = manifest_store.latest(session, project_id)
        else:
            row = manifest_store.find(session, project_id, version)
    if row is None:
        if version is None:
            raise NotFoundError(
                f"project {project_id!r} has no manifest yet: apply one "
                f"(PUT /api/v1/projects/{project_id}/manifest, or raymon manifest apply)"
            )
        raise NotFoundError(f"project {project_id!r} has no manifest version {version}")
    return {
        "project_id": row.project_id,
        "version": row.version,
        "applied_at": row.created_at.isoformat(timespec="microseconds"),
        "config": redact(row.source),
    }


def current_text(backend: Backend, project_id: str) -> str | None:
    """The current manifest's YAML text, redacted; ``None`` before the first apply."""
    with backend.reading() as session:
        row = manifest_store.latest(session, project_id)
    return None if row is None else redact(row.source)


def history(backend: Backend, project_id: str) -> dict[str, Any]:
    """Every applied version, newest first: ``{"project_id", "versions": [{"version", "applied_at"}]}``."""
    with backend.reading() as session:
        rows = manifest_store.versions(session, project_id)
    return {
        "project_id": project_id,
        "versions": [
            {"version": r.version, "applied_at": r.created_at.isoformat(timespec="microseconds")}
            for r in rows
        ],
    }
