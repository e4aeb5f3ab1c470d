"""The errors of model profiling, under ``raymon.RaymonError`` so users catch one base class.

This module only declares exception classes; it never raises them itself. ``ProfileError`` lives in
``raymon.exceptions`` (re-exported here), so the light ``raymon.profile_names`` can raise it too.
"""

from __future__ import annotations

from raymon.exceptions import ProfileError, ProfileNameError
from raymon.registry import UnknownClassError

__all__ = ["ProfileError", "ProfileNameError", "NotBuiltError", "UnknownProfileClassError"]


class NotBuiltError(ProfileError):
    """A profile (or one of its extractors) is used before ``build()`` gave it its reference stats."""


class UnknownProfileClassError(ProfileError, UnknownClassError):
    """A saved profile names an extractor or score class that is not registered (or cannot be imported)."""
