"""Configuration mistakes raise ``ConfigurationError`` (a ``RaymonError`` and a ``ValueError``) naming the setting.

The client's environment variables are read in one module, ``raymon.config``;
the loggers and ``RaymonAPI`` take their defaults from it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import raymon
from raymon import ConfigurationError, RaymonAPI, RaymonBatchLogger, RaymonError, RaymonFileLogger
from raymon import config as raymon_config
from raymon.loggers import RaymonAPILogger

SRC = Path(raymon.__file__).parent


@pytest.fixture(autouse=True)
def _no_raymon_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in raymon_config.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _refused(setting: str, match: str, make) -> ConfigurationError:
    with pytest.raises(ConfigurationError, match=match) as info:
        make()
    assert info.value.setting == setting
    assert isinstance(info.value, RaymonError) and isinstance(info.value, ValueError)
    return info.value


def test_configuration_error_is_exported_from_raymon_and_is_a_raymon_error_and_a_value_error():
    assert issubclass(raymon.ConfigurationError, RaymonError)
    assert issubclass(raymon.ConfigurationError, ValueError)
    assert "ConfigurationError" in raymon.__all__


def test_a_missing_project_id_names_the_argument_and_its_variable(tmp_path: Path):
    _refused("project_id", "RAYMON_PROJECT_ID", lambda: RaymonFileLogger(path=tmp_path))


def test_an_invalid_project_id_is_a_configuration_error(tmp_path: Path):
    _refused("project_id", "project_id", lambda: RaymonFileLogger(path=tmp_path, project_id="no spaces"))


@pytest.mark.parametrize("project_id", [".", "..", ".hidden"])
def test_a_project_id_starting_with_a_dot_is_refused_by_the_loggers_as_by_the_server(
    tmp_path: Path, project_id: str
):
    _refused(
        "project_id",
        "must not start with a dot",
        lambda: RaymonFileLogger(path=tmp_path, project_id=project_id),
    )


def test_the_project_id_comes_from_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RAYMON_PROJECT_ID", "from-env")
    with RaymonFileLogger(path=tmp_path) as logger:
        assert logger.project_id == "from-env"


def test_a_missing_url_names_the_argument_and_its_variable_for_every_client(tmp_path: Path):
    _refused("url", "RAYMON_URL", lambda: RaymonAPILogger(project_id="p"))
    _refused("url", "RAYMON_URL", lambda: RaymonBatchLogger(project_id="p", spool_dir=tmp_path))
    _refused("url", "RAYMON_URL", lambda: RaymonAPI())


def test_a_url_that_is_not_http_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _refused("url", "ftp://example.com", lambda: RaymonAPI(url="ftp://example.com"))
    monkeypatch.setenv("RAYMON_URL", "example.com:8000")
    _refused("url", "RAYMON_URL.*'example.com:8000'", lambda: RaymonAPILogger(project_id="p"))
    assert list(tmp_path.iterdir()) == []


def test_the_url_and_api_key_come_from_their_variables(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RAYMON_URL", "http://127.0.0.1:1/")
    monkeypatch.setenv("RAYMON_API_KEY", "secret")
    with RaymonAPI() as api:
        assert api.url == "http://127.0.0.1:1"
        assert api._client.headers["Authorization"] == "Bearer secret"


@pytest.mark.parametrize(
    ("setting", "kwargs"),
    [
        ("batch_size", {"batch_size": 0}),
        ("batch_bytes", {"batch_bytes": 10}),
        ("flush_interval", {"flush_interval": 0}),
        ("segment_bytes", {"segment_bytes": 10}),
        ("max_spool_bytes", {"max_spool_bytes": 3000, "segment_bytes": 2048}),
        ("max_object_bytes", {"max_object_bytes": 0}),
    ],
)
def test_batch_logger_settings_out_of_range_are_refused_naming_the_setting(tmp_path: Path, setting, kwargs):
    error = _refused(
        setting,
        setting,
        lambda: RaymonBatchLogger(url="http://127.0.0.1:1", project_id="p", spool_dir=tmp_path, **kwargs),
    )
    assert repr(next(iter(kwargs.values())))[:2] in str(error)
    assert list(tmp_path.iterdir()) == []  # refused before anything touched the disk


def test_file_logger_settings_out_of_range_are_refused_naming_the_setting(tmp_path: Path):
    _refused("max_bytes", "max_bytes", lambda: RaymonFileLogger(path=tmp_path, project_id="p", max_bytes=10))
    _refused(
        "max_object_bytes",
        "max_object_bytes",
        lambda: RaymonFileLogger(path=tmp_path, project_id="p", max_object_bytes=-1),
    )


@pytest.mark.parametrize("value", ["lots", "0", "-5"])
def test_an_invalid_max_object_bytes_variable_is_refused_naming_it_and_its_value(monkeypatch, value):
    monkeypatch.setenv("RAYMON_MAX_OBJECT_BYTES", value)
    _refused("max_object_bytes", f"RAYMON_MAX_OBJECT_BYTES.*'{value}'", raymon_config.max_object_bytes)


def test_the_spool_dir_comes_from_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RAYMON_SPOOL_DIR", str(tmp_path / "spool"))
    logger = RaymonBatchLogger(url="http://127.0.0.1:1", project_id="p", exit_timeout=0)
    try:
        assert logger.spool_dir == tmp_path / "spool"
    finally:
        logger.close()


def test_naive_begin_and_end_times_are_a_configuration_error():
    from datetime import datetime

    with RaymonAPI(url="http://127.0.0.1:1") as api:
        _refused("begin/end", "timezone-aware", lambda: api.trace_ls("p", begin=datetime(2026, 1, 1)))


def test_only_raymon_config_reads_the_clients_environment_variables():
    readers = []
    for path in SRC.rglob("*.py"):
        if "server" in path.relative_to(SRC).parts or path.name == "config.py":
            continue
        if re.search(r"os\.environ|os\.getenv", path.read_text()):
            readers.append(str(path.relative_to(SRC)))
    assert readers == []
