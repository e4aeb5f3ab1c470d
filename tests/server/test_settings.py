"""Settings: env vars, CLI overrides, and start-up refusing bad values with the variable's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from raymon.server.settings import Settings, SettingsError


def test_defaults_give_sqlite_in_the_data_dir() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.1", 8000, Path("raymon-data"))
    assert settings.effective_database_url.endswith("raymon-data/raymon.sqlite3")
    assert settings.effective_database_url.startswith("sqlite:////")


def test_cli_flags_override_env_vars_which_override_defaults() -> None:
    env = {
        "RAYMON_PORT": "9000",
        "RAYMON_HOST": "0.0.0.0",
        "RAYMON_MAX_BATCH_EVENTS": "7",
        "RAYMON_DEMO": "yes",
    }
    settings = Settings.from_env(env, port=9100, host=None, data_dir="/tmp/x")
    assert (settings.port, settings.host, settings.max_batch_events, settings.demo) == (
        9100,
        "0.0.0.0",
        7,
        True,
    )
    assert settings.data_dir == Path("/tmp/x")
    url = "postgresql+psycopg://u@h/db"
    assert Settings.from_env({"RAYMON_DATABASE_URL": url}).effective_database_url == url


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RAYMON_PORT": "http"}, "RAYMON_PORT must be an integer, got 'http'"),
        ({"RAYMON_MAX_REQUEST_BYTES": "0"}, "RAYMON_MAX_REQUEST_BYTES must be positive"),
        ({"RAYMON_DEMO": "maybe"}, "RAYMON_DEMO must be true or false"),
        ({"RAYMON_INGEST_SLOT_WAIT_SECONDS": "soon"}, "RAYMON_INGEST_SLOT_WAIT_SECONDS must be a number"),
        ({"RAYMON_INIT_PROJECT_ID": "p", "RAYMON_INIT_API_KEY": "k" * 20}, "RAYMON_INIT_USER_EMAIL"),
        ({"RAYMON_PORT": "70000"}, "RAYMON_PORT .* must be a port from 1 to 65535, got 70000"),
        ({"RAYMON_PORT": "0"}, "RAYMON_PORT .* must be a port from 1 to 65535, got 0"),
        ({"RAYMON_LOG_LEVEL": "loud"}, "RAYMON_LOG_LEVEL .* must be one of critical, error, .*, got 'loud'"),
        ({"RAYMON_DATABASE_URL": "garbage"}, "RAYMON_DATABASE_URL is not a database URL: 'garbage'"),
        (
            {"RAYMON_ENGINE_WRITE_DEFER_SECONDS": "-1"},
            "RAYMON_ENGINE_WRITE_DEFER_SECONDS must be from 0 to 60",
        ),
        ({"RAYMON_WORKERS": "0"}, r"RAYMON_WORKERS \(--workers\) must be a whole number from 1 to 64, got 0"),
        ({"RAYMON_WORKERS": "two"}, "RAYMON_WORKERS must be an integer, got 'two'"),
        (
            {"RAYMON_WORKERS": "2"},
            r"RAYMON_WORKERS \(--workers\) of 2 needs PostgreSQL \(RAYMON_DATABASE_URL\)",
        ),
        (
            {"RAYMON_WORKERS": "2", "RAYMON_DEMO": "1", "RAYMON_DATABASE_URL": "postgresql+psycopg://u@h/db"},
            r"RAYMON_DEMO \(--demo\) runs in one server process",
        ),
        (
            {"RAYMON_DATABASE_URL": "mysql://u@h/db"},
            "RAYMON_DATABASE_URL names the unsupported database 'mysql'",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_a_flag_is_held_to_the_same_rule_as_its_variable() -> None:
    with pytest.raises(
        SettingsError, match=r"RAYMON_PORT \(--port\) must be a port from 1 to 65535, got 99999"
    ):
        Settings.from_env({}, port=99999)
    with pytest.raises(SettingsError, match="got 'LOUD'"):
        Settings.from_env({}, log_level="LOUD")
    assert Settings.from_env({}, port=65535, log_level="WARNING").port == 65535


def test_a_refused_database_url_does_not_show_its_password() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"RAYMON_DATABASE_URL": "mysql://ops:hunter2secret@db/raymon"})
    assert "hunter2secret" not in str(refused.value) and "ops:***@db" in str(refused.value)


@pytest.mark.parametrize(
    ("data_dir", "message"),
    [
        (
            "file/data",
            r"RAYMON_DATA_DIR \(--data-dir\): .*/file/data is under .*/file, which is not a directory",
        ),
        ("file", r"RAYMON_DATA_DIR \(--data-dir\): .*/file is not a directory"),
        (
            "/proc/raymon-data",
            r"RAYMON_DATA_DIR \(--data-dir\): /proc/raymon-data cannot be created in /proc",
        ),
    ],
)
def test_a_data_dir_that_cannot_be_made_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({}, data_dir=data_dir).check_directories()


def test_checking_the_directories_creates_nothing(tmp_path: Path) -> None:
    Settings.from_env({}, data_dir=tmp_path / "new" / "data").check_directories()
    Settings.from_env({}, data_dir=tmp_path).check_directories()
    assert list(tmp_path.iterdir()) == []


def test_the_demo_keeps_done_jobs_a_day_unless_told_otherwise() -> None:
    assert Settings.from_env({}).jobs_keep_done_hours == 168
    assert Settings.from_env({"RAYMON_DEMO": "true"}).jobs_keep_done_hours == 24
    assert Settings.from_env({}, demo=True).jobs_keep_done_hours == 24
    told = {"RAYMON_DEMO": "true", "RAYMON_JOBS_KEEP_DONE_HOURS": "100"}
    assert Settings.from_env(told).jobs_keep_done_hours == 100


def test_several_server_processes_are_taken_on_postgresql() -> None:
    url = "postgresql+psycopg://u@h/db"
    assert Settings.from_env({"RAYMON_DATABASE_URL": url}, workers=4).workers == 4
    assert Settings.from_env({}).workers == 1
    with pytest.raises(SettingsError, match=r"RAYMON_WORKERS \(--workers\) of 3 needs PostgreSQL"):
        Settings.from_env({}, workers=3)
