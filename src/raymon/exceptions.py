"""One exception hierarchy for the whole client: users catch ``RaymonError``.

Every message names the offending value and the rule it broke, so a user can
fix the call without reading our source.
"""

from __future__ import annotations


class RaymonError(Exception):
    """Base class of every error raised by raymon."""


class TagError(RaymonError, ValueError):
    """A tag's name, value, type or group breaks the documented rules."""


class ProfileError(RaymonError, ValueError):
    """A profile, component, extractor or score is misconfigured, or given data it cannot use."""


class ProfileNameError(ProfileError):
    """A profile's name or version breaks the rule of ``raymon.profile_names``."""


class DataTypeError(RaymonError, ValueError):
    """Data cannot be wrapped, serialised or loaded back by ``raymon.types``."""


class ObjectTooLargeError(DataTypeError):
    """A logged object is over the configured size limit."""


class DuplicateRefError(RaymonError, ValueError):
    """A reference was logged twice on the same trace."""


class WireFormatError(RaymonError, ValueError):
    """An event does not follow the wire format (docs/wire-format.md)."""


class LoggerError(RaymonError):
    """A logger could not deliver or store an event."""


class BackendUnavailableError(LoggerError):
    """The backend could not be reached or refused the request."""

    def __init__(self, message: str, status_code: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class ConfigurationError(RaymonError, ValueError):
    """A setting (an argument or its ``RAYMON_*`` environment variable) is missing or invalid.

    ``setting`` names it, as the user would write it (``url``/``RAYMON_URL``, ``batch_size``...).
    """

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


class ManifestError(RaymonError, ValueError):
    """The backend refused a manifest; ``errors`` lists each ``{"path", "line", "column", "message"}``."""

    def __init__(self, message: str, errors: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.errors = errors
