"""The errors of model profiling, under ``raymon.RaymonError`` so users catch one base class.

This module only declares exception classes; it never raises them itself.
"""

from __future__ import annotations

from raymon.exceptions import RaymonError
from raymon.registry import UnknownClassError


class ProfileError(RaymonError, ValueError):
    """A profile, component, extractor or score is misconfigured, or given data it cannot use."""


class NotBuiltError(ProfileError):
    """A profile (or one of its extractors) is used before ``build()`` gave it its reference stats."""


class UnknownProfileClassError(ProfileError, UnknownClassError):
    """A saved profile names an extractor or score class that is not registered (or cannot be imported)."""
