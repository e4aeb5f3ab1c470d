"""The rule for a model profile's ``name@version``: written once, used by the client and the server.

``ModelProfile`` checks its name and version with these functions, and the
backend checks every profile it stores and every ``name@version`` it is asked
for with the same ones, so a profile the client makes is one the server takes,
and the other way round. The rule: name and version are each 1 to
``PART_MAX_LEN`` letters, digits and ``_ - . : +`` (no ``@``, no spaces), and
``name@version`` (the group of every tag the profile makes) is at most
``REF_MAX_LEN`` characters. Errors are ``ProfileNameError`` naming the value and
the rule. This module never imports NumPy, pandas or the server (a light client
and the backend both load it).
"""

from __future__ import annotations

import re
from typing import Any

from raymon.exceptions import ProfileNameError
from raymon.tags import GROUP_MAX_LEN

PART_MAX_LEN = 64
REF_MAX_LEN = GROUP_MAX_LEN
PART_RULE = f"1 to {PART_MAX_LEN} letters, digits or _ - . : +"
_PART_RE = re.compile(r"[A-Za-z0-9_\-.:+]+")


def check_profile_name(name: Any) -> str:
    """``name`` if it is a valid profile name, else ``ProfileNameError`` naming the rule."""
    if type(name) is not str or not 1 <= len(name) <= PART_MAX_LEN or _PART_RE.fullmatch(name) is None:
        hint = " ('@' separates name@version)" if isinstance(name, str) and "@" in name else ""
        raise ProfileNameError(f"a profile name must be {PART_RULE}{hint}, got {name!r}")
    return name


def check_profile_version(version: Any) -> str:
    """``version`` as text (a number such as ``3`` becomes ``"3"``) if valid, else ``ProfileNameError``."""
    if isinstance(version, int | float) and not isinstance(version, bool):
        version = str(version)
    if (
        type(version) is not str
        or not 1 <= len(version) <= PART_MAX_LEN
        or _PART_RE.fullmatch(version) is None
    ):
        raise ProfileNameError(f"a profile version must be {PART_RULE} (like '1.0.0'), got {version!r}")
    return version


def check_profile_ref(name: Any, version: Any) -> tuple[str, str]:
    """Both parts checked, and ``name@version`` no longer than ``REF_MAX_LEN``; answers ``(name, version)``."""
    name, version = check_profile_name(name), check_profile_version(version)
    ref = f"{name}@{version}"
    if len(ref) > REF_MAX_LEN:
        raise ProfileNameError(
            f"a profile's name@version must be at most {REF_MAX_LEN} characters, got {len(ref)}: {ref!r}"
        )
    return name, version


def parse_profile_ref(ref: Any) -> tuple[str, str]:
    """Split ``"name@version"`` and check it (``check_profile_ref``)."""
    if not isinstance(ref, str) or ref.count("@") != 1:
        raise ProfileNameError(f"a profile is named 'name@version' (one '@'), got {ref!r}")
    name, version = ref.split("@")
    return check_profile_ref(name, version)
