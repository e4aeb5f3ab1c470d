"""Storing a saved ModelProfile on the server: it must load with the registered classes, nothing imported."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from raymon.server.backend import Backend, build_backend
from raymon.server.plugins import Plugins
from raymon.server.services.errors import InvalidInputError
from raymon.server.services.profiles import create_profile, get_profile
from raymon.server.settings import Settings
from raymon.server.store.models import Project

PROJECT = "profiles-check"
TESTS = Path(__file__).parent.parent
PINNED = TESTS.parent / "profiling" / "data" / "pinned@1.0.0.json"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("profiles")))
    backend = build_backend(settings, plugins=Plugins.load(settings, entry_points=[]))
    backend.database.migrate()
    with backend.writing() as session:
        session.add(Project(id=PROJECT, name=PROJECT))
    yield backend
    backend.close()


def test_a_profile_naming_an_unregistered_extractor_is_refused_and_its_module_not_imported(
    db: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported.marker"
    monkeypatch.setenv("RAYMON_TEST_IMPORT_MARKER", str(marker))
    monkeypatch.syspath_prepend(str(TESTS / "untrusted_modules"))
    document = json.loads(PINNED.read_text())
    document["components"][0]["extractor"]["class"] = "raymon_marker_module.Counter"
    document["version"] = "2.0.0"
    with pytest.raises(InvalidInputError, match="unknown extractor class 'raymon_marker_module.Counter'"):
        create_profile(db, PROJECT, document)
    assert not marker.exists() and "raymon_marker_module" not in sys.modules
    summary, created = create_profile(db, PROJECT, json.loads(PINNED.read_text()))
    assert created and summary["ref"] == "pinned@1.0.0"
    assert get_profile(db, PROJECT, "pinned@1.0.0") == json.loads(PINNED.read_text())
