"""One rule for a profile's name@version (raymon.profile_names), applied alike by the client and the server."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import raymon.exceptions
import raymon.profile_names
import raymon.tags
from raymon.exceptions import ProfileNameError
from raymon.profile_names import PART_MAX_LEN, REF_MAX_LEN, check_profile_ref, parse_profile_ref
from raymon.profiling import ModelProfile, ProfileError

LONGEST = "n" * PART_MAX_LEN


def test_the_limits_are_64_per_part_and_128_for_name_at_version() -> None:
    assert (PART_MAX_LEN, REF_MAX_LEN) == (64, 128)
    assert check_profile_ref(LONGEST, "v" * (REF_MAX_LEN - PART_MAX_LEN - 1)) == (LONGEST, "v" * 63)
    assert parse_profile_ref("houses@3.0.0") == ("houses", "3.0.0")


@pytest.mark.parametrize(
    ("name", "version", "words"),
    [
        ("n" * (PART_MAX_LEN + 1), "1", "profile name must be 1 to 64"),
        ("houses", "v" * (PART_MAX_LEN + 1), "profile version must be 1 to 64"),
        (LONGEST, "v" * PART_MAX_LEN, "name@version must be at most 128"),
        ("house prices", "1", "letters, digits or _ - . : +"),
        ("a@b", "1", "'@' separates name@version"),
        ("houses", "", "profile version must be"),
        ("houses", True, "profile version must be"),
    ],
)
def test_the_client_refuses_names_breaking_the_rule_naming_it(name: str, version: str, words: str) -> None:
    with pytest.raises(ProfileNameError, match=words):
        ModelProfile(name, version)
    assert issubclass(ProfileNameError, ProfileError)


def test_the_client_takes_the_longest_names_the_rule_allows() -> None:
    assert ModelProfile(LONGEST, "v" * 63).group_idfr == f"{LONGEST}@{'v' * 63}"
    assert ModelProfile("houses", 3).version == "3"


def test_the_rule_module_imports_nothing_heavy() -> None:
    """The server and a light client import it: only the standard library and raymon's light modules."""
    allowed = {"raymon.exceptions", "raymon.tags", "__future__"}
    for module in (raymon.profile_names, raymon.tags, raymon.exceptions):
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                top = name.split(".")[0]
                assert name in allowed or top in sys.stdlib_module_names, (module.__name__, name)
