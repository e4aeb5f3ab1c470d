"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from raymon.wire import event_schema

REPO_ROOT = Path(__file__).resolve().parent.parent
HOUSEPRICES_DIR = REPO_ROOT.parent / "shared" / "data" / "houseprices"
if not HOUSEPRICES_DIR.exists():  # the package keeps its own copy for the demo
    HOUSEPRICES_DIR = REPO_ROOT / "src" / "raymon" / "demo_data"


@pytest.fixture(scope="session")
def houseprices_dir() -> Path:
    return HOUSEPRICES_DIR


@pytest.fixture(scope="session")
def event_validator():  # type: ignore[no-untyped-def]
    """A jsonschema validator for schema/event.schema.json: the contract every logger's output must meet."""
    import jsonschema

    schema = event_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
