"""The client's settings from the environment: the one place that reads ``RAYMON_*`` variables.

Loggers and ``RaymonAPI`` take every setting as an argument; when it is not
given they ask this module, which reads the environment variable at that
moment (so a test or a notebook can set it late). A missing or invalid value
raises ``ConfigurationError`` naming the argument and the variable. The
server's settings live in ``raymon.server.settings``, never here.
"""

from __future__ import annotations

import os

from raymon.exceptions import ConfigurationError

DEFAULT_MAX_OBJECT_BYTES = 16 * 1024 * 1024
DEFAULT_SPOOL_DIR = "raymon-spool"

URL = "RAYMON_URL"
API_KEY = "RAYMON_API_KEY"
PROJECT_ID = "RAYMON_PROJECT_ID"
SPOOL_DIR = "RAYMON_SPOOL_DIR"
MAX_OBJECT_BYTES = "RAYMON_MAX_OBJECT_BYTES"

ENVIRONMENT_VARIABLES = (URL, API_KEY, PROJECT_ID, SPOOL_DIR, MAX_OBJECT_BYTES)


def backend_url(url: str | None = None) -> str:
    """``url`` or ``RAYMON_URL``, without a trailing slash; refused when neither is set."""
    url = url or os.environ.get(URL)
    if not url:
        raise ConfigurationError("url", f"url is required (or set {URL}), e.g. http://127.0.0.1:8000")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError("url", f"url (or {URL}) must be http(s)://host[:port][/prefix], got {url!r}")
    return url.rstrip("/")


def api_key(api_key: str | None = None) -> str | None:
    """``api_key`` or ``RAYMON_API_KEY`` (None: send no ``Authorization`` header)."""
    return api_key if api_key is not None else os.environ.get(API_KEY) or None


def project_id(project_id: str | None = None) -> str:
    """``project_id`` or ``RAYMON_PROJECT_ID``; refused when neither is set."""
    value = project_id if project_id is not None else os.environ.get(PROJECT_ID)
    if value is None or value == "":
        raise ConfigurationError("project_id", f"project_id is required (or set {PROJECT_ID})")
    return value


def spool_dir(spool_dir: str | os.PathLike[str] | None = None) -> str | os.PathLike[str]:
    """``spool_dir`` or ``RAYMON_SPOOL_DIR``, else ``./raymon-spool``."""
    if spool_dir is not None:
        return spool_dir
    return os.environ.get(SPOOL_DIR) or DEFAULT_SPOOL_DIR


def max_object_bytes(limit: int | None = None) -> int:
    """``limit`` or ``RAYMON_MAX_OBJECT_BYTES``, else 16 MiB: the size limit of one serialised object."""
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(
                "max_object_bytes", f"max_object_bytes must be a positive number of bytes, got {limit!r}"
            )
        return limit
    value = os.environ.get(MAX_OBJECT_BYTES)
    if not value:
        return DEFAULT_MAX_OBJECT_BYTES
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigurationError(
            "max_object_bytes",
            f"{MAX_OBJECT_BYTES} must be a positive integer number of bytes, got {value!r}",
        )
    return number


__all__ = ["backend_url", "api_key", "project_id", "spool_dir", "max_object_bytes", "ENVIRONMENT_VARIABLES"]
