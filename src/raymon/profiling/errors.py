"""The errors of model profiling, under ``raymon.RaymonError`` so users catch one base class.

This module only declares exception classes; it never raises them itself. ``ProfileError`` lives in
``raymon.exceptions`` (re-exported here), so the light ``raymon.profile_names`` can raise it too.
"""

from __future__ import annotations

from raymon.exceptions import ProfileError, ProfileNameError

__all__ = ["ProfileError", "ProfileNameError", "NotBuiltError"]


class NotBuiltError(ProfileError):
    """A profile (or one of its extractors) is used before ``build()`` gave it its reference stats."""
