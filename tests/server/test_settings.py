"""Settings: env vars, CLI overrides, and start-up refusing bad values with the variable's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from raymon.server.settings import Settings


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
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)
