"""``Settings``: every knob of the backend in one object, from ``RAYMON_*`` env vars and CLI flags.

Read once at start-up (CLI flags override env vars, env vars override the
defaults) and passed down; nothing else in the server reads the environment.
A bad value fails start-up with a ``SettingsError`` naming the variable and
the value (``check``), before anything is created; ``check_directories`` then
makes sure the directories the settings name can be written, without writing
anything that stays.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

KIB = 1024
MIB = 1024 * 1024
# uvicorn's log levels (uvicorn.config.LOG_LEVELS), lower case.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
DATABASE_BACKENDS = ("sqlite", "postgresql")
DEMO_JOBS_KEEP_DONE_HOURS = 24.0  # RAYMON_JOBS_KEEP_DONE_HOURS's default with the demo on
MAX_DEMO_SPEED = 100.0  # RAYMON_DEMO_SPEED: faster, the demo's traffic would outrun one SQLite writer
MAX_WORKERS = 64  # RAYMON_WORKERS: server processes sharing one port


class SettingsError(ValueError):
    """A setting's value is refused; the message names the variable, the value and the rule."""


@dataclass(frozen=True)
class Settings:
    """The backend's configuration; each field's env var is ``RAYMON_<FIELD IN CAPITALS>``."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("raymon-data")
    # Empty: SQLite in the data directory. Else e.g. postgresql+psycopg://user:pw@host:5432/raymon
    database_url: str = ""
    # Empty: a directory under the data dir. Else s3://bucket/prefix (with the s3 extra).
    object_store_url: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""

    # Ingestion limits (see docs/server.md).
    max_request_bytes: int = 32 * MIB
    max_batch_events: int = 10_000
    max_object_bytes: int = 16 * MIB
    inline_object_max_bytes: int = 64 * KIB
    # Overload: at most this many ingest requests are parsed and written at once; a request
    # waiting longer than ingest_slot_wait_seconds for a slot is answered 429 with Retry-After.
    ingest_max_inflight: int = 4
    ingest_slot_wait_seconds: float = 2.0
    retry_after_seconds: int = 1
    # Fairness: one project holds at most this share of the ingest slots and of the body buffer.
    ingest_project_share: float = 0.5
    # Bytes of ingest bodies held in memory at once, counted as they arrive (0: 4 x max_request_bytes).
    ingest_buffer_bytes: int = 0
    # Every request's body must have arrived this many seconds after the route starts reading it (408).
    request_read_timeout_seconds: float = 30.0
    # The largest profile document (0: max_request_bytes; never more, a body over it is refused first).
    max_profile_bytes: int = 0
    # SQLite's PRAGMA synchronous: NORMAL (a power loss may undo the last commits) or FULL (it may not).
    sqlite_synchronous: str = "NORMAL"

    # POST /oauth/token (the original client's login, docs/migration.md): how long an access token
    # lives, and how many failed token requests one client address may make in a moving minute.
    access_token_seconds: int = 3600
    token_failures_per_minute: int = 10
    # The web UI's sign-in (docs/ui.md, "Signing in and security"): failed sign-ins one client address
    # may make in a moving minute, and one account may get (from any address) in a moving hour.
    login_failures_per_minute: int = 10
    login_account_failures_per_hour: int = 30
    # The addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed
    # (comma-separated IP addresses or networks, or *): a proxy terminating TLS makes the session
    # cookie Secure and names the client for the rate limits. Empty: uvicorn's default (its
    # FORWARDED_ALLOW_IPS environment variable, else 127.0.0.1).
    forwarded_allow_ips: str = ""

    # Headless initialisation: all four set -> that project, admin key and admin user exist.
    init_project_id: str = ""
    init_project_name: str = ""
    init_api_key: str = ""
    init_user_email: str = ""
    init_user_password: str = ""

    # Comma-separated plugin (entry-point or distribution) names that may load; empty: every
    # installed plugin. Raymon's own plugin always loads (docs/plugins.md).
    plugins: str = ""

    # The engine (docs/engine.md, "Workers"): "auto" runs it inside ``raymon server`` on SQLite
    # only (run ``raymon worker`` processes with PostgreSQL), "on" always, "off" never.
    engine: str = "auto"
    worker_concurrency: int = 2  # job threads per worker (and of the in-process engine)
    worker_poll_seconds: float = 1.0  # how often an idle worker looks for due jobs
    jobs_keep_done_hours: float = 168.0  # done jobs (and their keys) are kept this long, then deleted
    cleanup_batch_rows: int = 1000  # a cleanup job deletes at most this many rows per table per run
    # How long the in-process engine's writes yield to requests' writes at most (0: no yielding).
    engine_write_defer_seconds: float = 0.5
    # How often a reducer's pass runs at most (0: once per reducer interval, as the original did). A pass
    # only merges new tags into their windows, so passes more often than windows end cost little and
    # show issues sooner (tests and the demo use a few seconds).
    reduce_pass_seconds: float = 0.0
    # How old an answer of ``GET /tags`` (tag statistics over the newest traces) may be (0: computed
    # for every request). Counting a sample's tags costs a few hundred ms at any size; filter boxes
    # ask for them at every page view (services.tags.recent_tag_stats; docs/query.md, ``tags_ls``).
    tag_stats_max_age_seconds: float = 30.0

    # Server processes sharing the port (``raymon server --workers``, docs/server.md "Several server
    # processes"): PostgreSQL only (SQLite has one writer at a time), never with the demo.
    workers: int = 1

    demo: bool = False
    # Story seconds of the demo's traffic per second (``raymon server --demo``; > 1: faster, for tests).
    demo_speed: float = 1.0
    log_level: str = "info"

    # Alerts (docs/alerts.md). The UI's address as people reach it, for links in alerts
    # (e.g. https://raymon.example.com); empty: http://<host>:<port>.
    public_url: str = ""
    # One alert delivery's HTTP timeout, and how long a failing delivery is retried.
    alert_timeout_seconds: float = 10.0
    alert_retry_hours: float = 24.0
    # Remind of an issue open this long, and again every as long (0: no reminders).
    alert_remind_after_seconds: int = 0
    db_pool_size: int = 10
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'raymon.sqlite3').resolve()}"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or ``None`` when the database is not SQLite (or in memory)."""
        url = self.effective_database_url
        if not url.startswith("sqlite"):
            return None
        database = url.split(":///", 1)[1] if ":///" in url else ""
        return None if database in ("", ":memory:") else Path(database).resolve()

    @property
    def ui_url(self) -> str:
        """Where people open the UI (``public_url``, else this server's own address), without a final /."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def ingest_buffer_limit(self) -> int:
        return self.ingest_buffer_bytes or 4 * self.max_request_bytes

    @property
    def profile_limit(self) -> int:
        return self.max_profile_bytes or self.max_request_bytes

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def init_requested(self) -> bool:
        return bool(self.init_project_id or self.init_api_key or self.init_user_email)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``environ`` (default ``os.environ``), then ``overrides`` (CLI flags; None = unset)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            var = f"RAYMON_{f.name.upper()}"
            raw = environ.get(var)
            if raw is not None and raw != "":
                values[f.name] = _convert(var, raw, f.default)
        for name, value in overrides.items():
            if value is not None:
                values[name] = Path(value) if name == "data_dir" else value
        if values.get("demo") and "jobs_keep_done_hours" not in values:
            # a demo left running must not fill the disk with a week of its engine's done jobs
            values["jobs_keep_done_hours"] = DEMO_JOBS_KEEP_DONE_HOURS
        settings = cls(**values)
        settings.check()
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def check(self) -> None:
        """Refuse a bad value (``SettingsError`` naming the variable); reads no file, opens no socket."""
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"RAYMON_PORT (--port) must be a port from 1 to 65535, got {self.port!r}")
        if self.log_level.lower() not in LOG_LEVELS:
            raise SettingsError(
                f"RAYMON_LOG_LEVEL (--log-level) must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"
            )
        if self.database_url:
            _check_database_url(self.database_url)
        if self.object_store_url:
            _check_object_store_url(self.object_store_url)
        positive = (
            "max_request_bytes",
            "max_batch_events",
            "max_object_bytes",
            "inline_object_max_bytes",
            "ingest_max_inflight",
            "db_pool_size",
            "access_token_seconds",
            "token_failures_per_minute",
            "login_failures_per_minute",
            "login_account_failures_per_hour",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise SettingsError(f"RAYMON_{name.upper()} must be positive, got {getattr(self, name)!r}")
        if not 0 <= self.tag_stats_max_age_seconds <= 3600:
            raise SettingsError(
                "RAYMON_TAG_STATS_MAX_AGE_SECONDS must be from 0 (off) to 3600, "
                f"got {self.tag_stats_max_age_seconds!r}"
            )
        _check_forwarded_allow_ips(self.forwarded_allow_ips)
        if self.public_url and urlparse(self.public_url).scheme not in ("http", "https"):
            raise SettingsError(f"RAYMON_PUBLIC_URL must be an http(s):// address, got {self.public_url!r}")
        if not self.alert_timeout_seconds > 0 or not self.alert_retry_hours > 0:
            raise SettingsError("RAYMON_ALERT_TIMEOUT_SECONDS and RAYMON_ALERT_RETRY_HOURS must be positive")
        if self.alert_remind_after_seconds < 0:
            raise SettingsError(
                f"RAYMON_ALERT_REMIND_AFTER_SECONDS must be >= 0 (0: off), got {self.alert_remind_after_seconds!r}"
            )
        if not 0 < self.demo_speed <= MAX_DEMO_SPEED:
            raise SettingsError(
                f"RAYMON_DEMO_SPEED must be a number above 0 and at most {MAX_DEMO_SPEED}, got {self.demo_speed!r}"
            )
        if self.ingest_slot_wait_seconds < 0 or self.retry_after_seconds < 0:
            raise SettingsError("RAYMON_INGEST_SLOT_WAIT_SECONDS and RAYMON_RETRY_AFTER_SECONDS must be >= 0")
        self._check_body_limits()
        self._check_engine()
        self._check_workers()
        if self.sqlite_synchronous.upper() not in SQLITE_SYNCHRONOUS:
            raise SettingsError(
                f"RAYMON_SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS)}, "
                f"got {self.sqlite_synchronous!r}"
            )
        init = {
            "RAYMON_INIT_PROJECT_ID": self.init_project_id,
            "RAYMON_INIT_API_KEY": self.init_api_key,
            "RAYMON_INIT_USER_EMAIL": self.init_user_email,
            "RAYMON_INIT_USER_PASSWORD": self.init_user_password,
        }
        if any(init.values()) and not all(init.values()):
            missing = [k for k, v in init.items() if not v]
            raise SettingsError(
                f"headless initialisation needs all four RAYMON_INIT_* variables; missing: {missing}"
            )

    def check_directories(self) -> None:
        """Refuse a data (or object store) directory that cannot be created or written.

        Probes the directory, or its nearest existing parent, with a temporary file that is
        removed at once: a read-only mount, ``/proc``, a path under a file or a directory
        without write permission is refused naming the setting and the path. Creates nothing.
        """
        directories: list[tuple[str, Path]] = []
        if not self.database_url:
            directories.append(("RAYMON_DATA_DIR (--data-dir)", self.data_dir))
        elif self.sqlite_path is not None:
            directories.append(("RAYMON_DATABASE_URL", self.sqlite_path.parent))
        if not self.object_store_url:
            directories.append(("RAYMON_DATA_DIR (--data-dir)", self.objects_dir))
        elif "://" not in self.object_store_url or self.object_store_url.startswith("file:"):
            path = self.object_store_url.split("://", 1)[-1]
            directories.append(("RAYMON_OBJECT_STORE_URL", Path(path)))
        for setting, directory in directories:
            _check_writable_directory(setting, directory)

    @property
    def engine_in_process(self) -> bool:
        """Whether ``raymon server`` runs the engine's worker itself (RAYMON_ENGINE)."""
        if self.engine == "auto":
            return self.effective_database_url.startswith("sqlite")
        return self.engine == "on"

    def _check_workers(self) -> None:
        if not 1 <= self.workers <= MAX_WORKERS:
            raise SettingsError(
                f"RAYMON_WORKERS (--workers) must be a whole number from 1 to {MAX_WORKERS}, got {self.workers!r}"
            )
        if self.workers == 1:
            return
        if not self.effective_database_url.startswith("postgresql"):
            raise SettingsError(
                f"RAYMON_WORKERS (--workers) of {self.workers} needs PostgreSQL (RAYMON_DATABASE_URL): "
                "SQLite writes one transaction at a time, so more server processes only wait on each other"
            )
        if self.demo:
            raise SettingsError(
                "RAYMON_DEMO (--demo) runs in one server process: leave RAYMON_WORKERS (--workers) at 1"
            )

    def _check_engine(self) -> None:
        if self.engine not in ENGINE_MODES:
            raise SettingsError(
                f"RAYMON_ENGINE must be one of {', '.join(ENGINE_MODES)}, got {self.engine!r}"
            )
        for name in ("worker_concurrency", "cleanup_batch_rows"):
            if getattr(self, name) < 1:
                raise SettingsError(f"RAYMON_{name.upper()} must be at least 1, got {getattr(self, name)!r}")
        for name in ("worker_poll_seconds", "jobs_keep_done_hours"):
            if not getattr(self, name) > 0:
                raise SettingsError(f"RAYMON_{name.upper()} must be positive, got {getattr(self, name)!r}")
        if not 0 <= self.engine_write_defer_seconds <= 60:
            raise SettingsError(
                "RAYMON_ENGINE_WRITE_DEFER_SECONDS must be from 0 to 60, "
                f"got {self.engine_write_defer_seconds!r}"
            )

    def _check_body_limits(self) -> None:
        if not 0 < self.ingest_project_share <= 1:
            raise SettingsError(
                f"RAYMON_INGEST_PROJECT_SHARE must be over 0 and at most 1, got {self.ingest_project_share!r}"
            )
        if not self.request_read_timeout_seconds > 0:
            raise SettingsError(
                "RAYMON_REQUEST_READ_TIMEOUT_SECONDS must be positive, "
                f"got {self.request_read_timeout_seconds!r}"
            )
        if self.ingest_buffer_bytes < 0 or self.max_profile_bytes < 0:
            raise SettingsError(
                "RAYMON_INGEST_BUFFER_BYTES and RAYMON_MAX_PROFILE_BYTES must be >= 0 (0: derived)"
            )
        share = self.ingest_buffer_limit * self.ingest_project_share
        if share < self.max_request_bytes:
            raise SettingsError(
                f"RAYMON_INGEST_BUFFER_BYTES={self.ingest_buffer_limit} x RAYMON_INGEST_PROJECT_SHARE="
                f"{self.ingest_project_share} is less than RAYMON_MAX_REQUEST_BYTES={self.max_request_bytes}: "
                "a body of the largest size could never be read"
            )
        if self.max_profile_bytes > self.max_request_bytes:
            raise SettingsError(
                f"RAYMON_MAX_PROFILE_BYTES={self.max_profile_bytes} is over RAYMON_MAX_REQUEST_BYTES="
                f"{self.max_request_bytes}: a profile that large would be refused as a request body first"
            )


SQLITE_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")
ENGINE_MODES = ("auto", "on", "off")


def _check_forwarded_allow_ips(value: str) -> None:
    """Each item an IP address, a network or ``*`` (uvicorn would take a typo as a literal that matches nothing)."""
    for item in (part.strip() for part in value.split(",")):
        if not item or item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SettingsError(
                f"RAYMON_FORWARDED_ALLOW_IPS must be comma-separated IP addresses or networks "
                f"(e.g. 127.0.0.1,10.0.0.0/8) or *, got {item!r} in {value!r}"
            ) from None


def _check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    rule = "use sqlite:///path/to/file or postgresql+psycopg://user:password@host:5432/database"
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise SettingsError(f"RAYMON_DATABASE_URL is not a database URL: {shown!r} ({rule})") from None
    if backend not in DATABASE_BACKENDS:
        raise SettingsError(
            f"RAYMON_DATABASE_URL names the unsupported database {backend!r} in {shown!r} ({rule})"
        )


def _check_object_store_url(url: str) -> None:
    """The rule ``store.objects.open_object_store`` applies, checked before anything is opened."""
    parsed = urlparse(url)
    if parsed.scheme == "s3" and not parsed.netloc:
        raise SettingsError(f"RAYMON_OBJECT_STORE_URL needs a bucket: s3://bucket/prefix, got {url!r}")
    if parsed.scheme not in ("s3", "file", ""):
        raise SettingsError(f"RAYMON_OBJECT_STORE_URL must be s3://bucket/prefix or a directory, got {url!r}")


def _check_writable_directory(setting: str, directory: Path) -> None:
    directory = directory.absolute()
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is" if existing == directory else f"is under {existing}, which is"
        raise SettingsError(f"{setting}: {directory} {where} not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".raymon-probe-"):
            pass
    except OSError as exc:
        what = "cannot be written" if existing == directory else f"cannot be created in {existing}"
        raise SettingsError(f"{setting}: {directory} {what} ({exc.strerror or exc})") from None


def _convert(var: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{var} must be true or false, got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{var} must be an integer, got {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{var} must be a number, got {raw!r}") from None
    if isinstance(default, Path):
        return Path(raw)
    return raw
