"""The SQL schema of the store, as SQLAlchemy 2 models (one class per table).

These classes are the schema's single description: the Alembic migrations
under ``store/migrations/`` create exactly these tables, on SQLite and on
PostgreSQL alike. Services and query functions select on them; routes never
import them. Changing a column here needs a new migration, never an edit of
an applied one.

Choices worth knowing:
- ``traces.id`` is a surrogate integer, so tags, texts and objects point at
  a trace with one small integer and the (project_id, trace_id) text pair is
  stored once.
- ``tags`` keep one row per (trace, name): the tag with the latest ``ts`` wins,
  whatever order the events arrive in. Numbers go to ``value_num``, strings to
  ``value_text``; both are indexed with the project and name for filtering.
- ``objects`` keep every logged object, also a ref logged twice on one trace
  (two services may log the same ref): ``id`` is the event id of the event that
  carried it, so re-sends never duplicate it. Like the events ledger, they are
  keyed per project, ``(project_id, id)`` (migration 0004): two projects may
  send the same event id. Small bodies are inline JSON text in ``body``; large
  ones live in the object store under ``store_key``.
- ``events`` remembers every accepted ``event_id`` per project: the
  idempotency ledger (at-least-once delivery becomes exactly-once storage).
  ``content_hash`` is a digest of the event as stored, so a re-sent id with
  different content is told apart from a plain re-send (``NULL`` for events
  stored before migration 0004).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from raymon.server.store.coltypes import UTCDateTime, json_type, utcnow

# An auto-incrementing 64-bit key on PostgreSQL; SQLite needs exactly INTEGER for its rowid alias.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

ID_LEN = 128
NAME_LEN = 256


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    """A project-scoped API key; only its sha256 and a short hint (``key_prefix``, e.g. ``rmn_AbCd``) are stored.

    The key is listed and revoked by ``id``, a random id that says nothing about the key (migration 0005).
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    key_prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    scopes: Mapped[str] = mapped_column(String(128))  # comma-separated: ingest,read,admin
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When the key last authenticated a request, to within a minute (services.key_usage; migration 0019).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Membership(Base):
    """A user's role in a project (``admin`` or ``viewer``)."""

    __tablename__ = "memberships"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(32))


class Invitation(Base):
    """An offer of a role in a project to an e-mail address, enrolled only when the person accepts.

    Only the token's sha256 is stored (like API keys'); ``accepted_at`` is set when it is used.
    """

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_project_email", "project_id", "email"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AccessToken(Base):
    """A short-lived bearer token issued for an API key (``POST /oauth/token``, migration 0007).

    Only its sha256 is stored, like a key's. It carries no scopes of its own: every use reads its
    key, so revoking the key (or deleting it with its project) ends its tokens at once.
    """

    __tablename__ = "access_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UiSession(Base):
    """A signed-in browser of the web UI: the cookie holds an opaque token, this row its SHA-256."""

    __tablename__ = "ui_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Trace(Base):
    __tablename__ = "traces"
    __table_args__ = (
        UniqueConstraint("project_id", "trace_id", name="uq_traces_project_trace"),
        Index("ix_traces_project_last_ts_id", "project_id", "last_ts", "id"),
        Index("ix_traces_project_first_ts_id", "project_id", "first_ts", "id"),
        Index("ix_traces_project_id", "project_id", "id"),  # traces in received order (migration 0002)
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    trace_id: Mapped[str] = mapped_column(String(ID_LEN))
    first_ts: Mapped[datetime] = mapped_column(UTCDateTime())
    last_ts: Mapped[datetime] = mapped_column(UTCDateTime())


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("trace_pk", "name", name="uq_tags_trace_name"),
        Index("ix_tags_project_name_text", "project_id", "name", "value_text", "trace_pk"),
        Index("ix_tags_project_name_num", "project_id", "name", "value_num", "trace_pk"),
        Index("ix_tags_project_ts", "project_id", "ts"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(ID_LEN))
    trace_pk: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    type: Mapped[str] = mapped_column(String(64))
    grp: Mapped[str | None] = mapped_column(String(NAME_LEN), nullable=True)
    value_num: Mapped[float | None] = mapped_column(Float(), nullable=True)
    value_text: Mapped[str | None] = mapped_column(Text(), nullable=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    # the pass that took it, up to migration 0020 (0010-0019); no longer written: ``reduce_queue`` says what is new
    reduced_pass: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)


class ReduceQueue(Base):
    """A grouped tag no reduce pass has taken yet (migration 0020): written by ingest with the tag, deleted by the pass.

    A small table of what is new: claiming deletes its rows in the pass's transaction, so the
    ``tags`` rows (and their indices, which grow with history) are never rewritten by a pass.
    No foreign keys (each would cost ingest a lookup per row): project deletion and retention
    delete the rows of what they delete, and a claim skips a row whose tag is gone.
    """

    __tablename__ = "reduce_queue"
    __table_args__ = (
        PrimaryKeyConstraint("project_id", "grp", "tag_id", name="reduce_queue_pkey"),
        {"sqlite_with_rowid": False},  # the key is the table: one b-tree
    )

    project_id: Mapped[str] = mapped_column(String(ID_LEN))
    grp: Mapped[str] = mapped_column(String(NAME_LEN))
    tag_id: Mapped[int] = mapped_column(BigInteger())


class TextLine(Base):
    __tablename__ = "texts"
    __table_args__ = (Index("ix_texts_trace_ts", "trace_pk", "ts"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    trace_pk: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    level: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text())


class DataObject(Base):
    """A logged data object: its jcr inline in ``body`` when small, else in the object store."""

    __tablename__ = "objects"
    __table_args__ = (
        PrimaryKeyConstraint("project_id", "id", name="objects_pkey"),  # per project, as events (0004)
        Index("ix_objects_trace_ref_ts", "trace_pk", "ref", "ts"),
        Index("ix_objects_project_ref_ts", "project_id", "ref", "ts"),
        Index("ix_objects_project_ts_id", "project_id", "ts", "id"),  # object list, newest first (0003)
    )

    id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(ID_LEN))
    trace_pk: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(NAME_LEN))
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    data_type: Mapped[str] = mapped_column(String(NAME_LEN))
    size: Mapped[int] = mapped_column(BigInteger())
    body: Mapped[str | None] = mapped_column(Text(), nullable=True)
    store_key: Mapped[str | None] = mapped_column(String(512), nullable=True)


class IngestedEvent(Base):
    """The idempotency ledger: one row per accepted event id per project."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_project_received", "project_id", "received_at"),)

    project_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # blake2b-128 hex of the event's canonical JSON (``writes.content_hash``); NULL: stored before 0004
    content_hash: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Profile(Base):
    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("project_id", "name", "version", name="uq_profiles_name_version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    version: Mapped[str] = mapped_column(String(64))
    body: Mapped[Any] = mapped_column(json_type())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- tables the engine fills (manifests, reducers, issues, alerts, jobs) -----------------------


class Manifest(Base):
    """Every applied version of a project's manifest (YAML text and its parsed form)."""

    __tablename__ = "manifests"
    __table_args__ = (UniqueConstraint("project_id", "version", name="uq_manifests_project_version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer())
    source: Mapped[str] = mapped_column(Text())
    parsed: Mapped[Any] = mapped_column(json_type())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReducerState(Base):
    """One reducer of a project: its pass counter (locked by a pass) and the kept combinations of its spaces."""

    __tablename__ = "reducer_states"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    reducer: Mapped[str] = mapped_column(String(NAME_LEN), primary_key=True)
    last_pass: Mapped[int] = mapped_column(BigInteger())
    spaces: Mapped[Any] = mapped_column(json_type(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReduceResult(Base):
    """A reducer's mergeable state, contrast rows and counts for one slice and window (migration 0010)."""

    __tablename__ = "reduce_results"
    __table_args__ = (
        UniqueConstraint("project_id", "reducer", "slice", "window_start", name="uq_reduce_results_window"),
        Index("ix_reduce_results_project_reducer_end", "project_id", "reducer", "window_end"),
        Index("ix_reduce_results_project_reducer_start", "project_id", "reducer", "window_start"),  # 0010
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    reducer: Mapped[str] = mapped_column(String(NAME_LEN))
    slice: Mapped[str] = mapped_column(String(1024))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[Any] = mapped_column(json_type(), nullable=True)
    result: Mapped[Any] = mapped_column(json_type(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    n_tags: Mapped[int] = mapped_column(BigInteger(), server_default="0")
    n_alerts: Mapped[int] = mapped_column(Integer(), server_default="0")
    last_pass: Mapped[int] = mapped_column(BigInteger(), server_default="0")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ReduceSummary(Base):
    """A window's dashboard numbers, apart from its large state and rows (migration 0016_uidash).

    One row per ``reduce_results`` row (``result_id``; deleted with it): the values of the headline
    metric of each (check, component) and the production scores, compact
    (``engine.profile_reducer.window_summary``), with the window's times and counts. The key is the
    window's (project, reducer, slice, start) and, on SQLite, the table is clustered by it
    (WITHOUT ROWID), so one slice's week of windows is one contiguous read of a few megabytes.
    What the values are (their keys and thresholds) is the ``layout``'s row of ``ReduceSummaryLayout``.
    """

    __tablename__ = "reduce_summaries"
    __table_args__ = (
        Index("ix_reduce_summaries_result", "result_id"),
        {"sqlite_with_rowid": False},
    )

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    reducer: Mapped[str] = mapped_column(String(NAME_LEN), primary_key=True)
    slice: Mapped[str] = mapped_column(String(1024), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    result_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("reduce_results.id", ondelete="CASCADE"))
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    n_tags: Mapped[int] = mapped_column(BigInteger(), server_default="0")
    n_alerts: Mapped[int] = mapped_column(Integer(), server_default="0")
    layout: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text())  # JSON text, read with orjson (faster than the JSON type)


class ReduceSummaryLayout(Base):
    """What a summary's values are: their keys (check, metric, component) and thresholds (migration 0016_uidash)."""

    __tablename__ = "reduce_summary_layouts"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    reducer: Mapped[str] = mapped_column(String(NAME_LEN), primary_key=True)
    layout: Mapped[str] = mapped_column(String(64), primary_key=True)
    keys: Mapped[str] = mapped_column(Text())  # JSON text


class ReduceRollup(Base):
    """One bucket of a slice's windows of one summary layout, pre-aggregated for dashboards (migration 0019_dash_rollups).

    Buckets of 10 and 60 windows (``span_s``: their length), aligned on the epoch; per value of
    the layout the min, max, sum, count, alerting windows and latest value (``stats``, packed by
    ``store.rollups``), with the bucket's counts and times. Written with the summaries
    (``store.reduce.save_windows``), so a week's chart reads ~1,000 rows instead of 10,080.
    """

    __tablename__ = "reduce_rollups"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    reducer: Mapped[str] = mapped_column(String(NAME_LEN), primary_key=True)
    slice: Mapped[str] = mapped_column(String(1024), primary_key=True)
    span_s: Mapped[int] = mapped_column(Integer(), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    layout: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_start: Mapped[datetime] = mapped_column(UTCDateTime())
    last_end: Mapped[datetime] = mapped_column(UTCDateTime())
    n_windows: Mapped[int] = mapped_column(Integer())
    n_tags: Mapped[int] = mapped_column(BigInteger())
    n_alerts: Mapped[int] = mapped_column(Integer())
    stats: Mapped[bytes] = mapped_column(LargeBinary())


class Issue(Base):
    """One issue: an episode of one (reducer, slice, component or score, check) going wrong (migration 0011).

    ``key`` names the (reducer, slice, component, check); the key's newest row carries the state
    machine's state (``machine``, ``engine.issues.IssueState``). A key gets a new row when it
    opens again after its reopen horizon; within it, the same row reopens. ``check_kind`` is
    drift, integrity or performance (``check`` is an SQL keyword).
    """

    __tablename__ = "issues"
    __table_args__ = (
        UniqueConstraint("project_id", "key", "episode", name="uq_issues_project_key_episode"),
        Index("ix_issues_project_status_priority", "project_id", "status", "priority"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(1024))  # what makes two detections the same issue
    episode: Mapped[int] = mapped_column(Integer())  # 1, 2...: the key's issues, oldest first
    reducer: Mapped[str] = mapped_column(String(NAME_LEN))
    slice: Mapped[str] = mapped_column(String(1024))
    slice_name: Mapped[str | None] = mapped_column(String(NAME_LEN), nullable=True)
    component: Mapped[str] = mapped_column(String(NAME_LEN))
    check_kind: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str | None] = mapped_column(String(64), nullable=True)
    value: Mapped[float | None] = mapped_column(Float(), nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float(), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    priority: Mapped[float] = mapped_column(Float(), default=0.0)
    machine: Mapped[Any] = mapped_column(json_type())
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # the newest seen
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    muted_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    tuning: Mapped[Any] = mapped_column(json_type(), nullable=True)  # {thresholds, open_after, window_count}
    example_trace_ids: Mapped[Any] = mapped_column(json_type(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IssueHistory(Base):
    """Every transition of an issue (and every ack, mute and tune), with the window values behind it."""

    __tablename__ = "issue_history"
    __table_args__ = (Index("ix_issue_history_issue", "issue_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(String(ID_LEN))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))  # transition, acked, muted, tuned
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    event: Mapped[str | None] = mapped_column(String(32), nullable=True)  # opened, reopened, resolved
    event_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    notified: Mapped[bool | None] = mapped_column(Boolean(), nullable=True)
    suppressed: Mapped[str | None] = mapped_column(String(64), nullable=True)  # why not notified
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    details: Mapped[Any] = mapped_column(json_type(), nullable=True)  # the window's metric rows, the verdict


class AlertDelivery(Base):
    """One message to one alert channel: the events it tells of, its state and its retry window.

    ``delivery_id`` is the message's id on the wire (``webhook-id``), the same on every attempt.
    The channel is named (``channel``, ``manifest_version``), never stored with its URL or secret:
    the handler reads those from the stored manifest when it sends (migration 0012).
    """

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_project_channel", "project_id", "channel", "id"),
        Index("ix_alert_deliveries_stream", "project_id", "channel", "check_name", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(NAME_LEN))
    manifest_version: Mapped[int | None] = mapped_column(Integer(), nullable=True)  # None: the latest
    event_type: Mapped[str] = mapped_column(String(16))
    check_name: Mapped[str] = mapped_column(String(NAME_LEN))  # the ordering stream with the channel
    issue_id: Mapped[str] = mapped_column(String(ID_LEN))  # the first issue told of
    events: Mapped[Any] = mapped_column(json_type())  # IssueEvent.to_json() of each event
    status: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed, disabled
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    last_error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retry_since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # the retry window's start
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AlertAttempt(Base):
    """One HTTP attempt of a delivery: what the receiver answered (or the network error), how long it took."""

    __tablename__ = "alert_attempts"
    __table_args__ = (Index("ix_alert_attempts_delivery", "delivery_pk", "attempt"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    delivery_pk: Mapped[int] = mapped_column(ForeignKey("alert_deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer())
    status_code: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float())
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AlertChannelDisabled(Base):
    """A channel whose receiver answered 410 Gone, for the manifest version it was sent with.

    A newly applied manifest (another version) sends again; see docs/alerts.md.
    """

    __tablename__ = "alert_channels_disabled"
    __table_args__ = (PrimaryKeyConstraint("project_id", "channel", "manifest_version"),)

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(NAME_LEN))
    manifest_version: Mapped[int] = mapped_column(Integer())  # 0: no stored manifest version
    disabled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text())


class Job(Base):
    """A unit of engine work (migration 0008): claimed with a lease by one worker attempt at a time.

    ``status``: ``pending`` (waiting for ``run_at``), ``running`` (held by ``worker`` until
    ``lease_until``), ``done`` or ``parked`` (failed for good, with ``last_error``). ``attempt``
    grows by one per claim and never goes back: with ``worker`` it fences every update of a
    running job. ``forgiven`` counts attempts that do not count against the kind's
    ``max_attempts`` (released at shutdown, or before an operator re-queued the job). ``key``
    is unique while the row lives: done jobs are kept ``RAYMON_JOBS_KEEP_DONE_HOURS``.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("key", name="uq_jobs_key"),
        Index("ix_jobs_status_run_at", "status", "run_at"),
        Index("ix_jobs_status_lease_until", "status", "lease_until"),
        Index("ix_jobs_project_status_id", "project_id", "status", "id"),
        Index("ix_jobs_status_finished_at", "status", "finished_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    payload: Mapped[Any] = mapped_column(json_type(), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(NAME_LEN), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer(), default=0)
    forgiven: Mapped[int] = mapped_column(Integer(), default=0)
    last_error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MapperRun(Base):
    """That a mapper ran on a trace (migration 0009): written with its tags, so it runs exactly once.

    ``status`` is ``done`` (``n_tags`` tags written) or ``failed`` (``error`` says why; the trace has
    an error tag in the mapper's group).
    """

    __tablename__ = "mapper_runs"
    __table_args__ = (
        PrimaryKeyConstraint("project_id", "mapper", "trace_pk", name="mapper_runs_pkey"),
        Index("ix_mapper_runs_trace", "trace_pk"),  # the cascade from a deleted trace
    )

    project_id: Mapped[str] = mapped_column(String(ID_LEN))
    mapper: Mapped[str] = mapped_column(String(NAME_LEN))
    trace_pk: Mapped[int] = mapped_column(BigIntPK, ForeignKey("traces.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    n_tags: Mapped[int] = mapped_column(Integer())
    attempt: Mapped[int] = mapped_column(Integer())
    error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SliceCell(Base):
    """Discovery's roll-up cells (migration 0014): per (reducer, window, combination of explored tag values, component).

    ``cell`` is the combination as canonical JSON (``[["camera", "c3"], ["site", "s1"]]``, tag names
    sorted, capped values; a tag the trace lacks is absent). ``rows`` counts the traces with any tag
    of the component, ``errors`` those with its error tag; ``n``, ``total``, ``total_sq`` and
    ``value_max`` are over its numeric values. Passes add to a cell (``INSERT ... ON CONFLICT DO
    UPDATE SET n = n + excluded.n``), so any conjunction of conditions is a sum of cells.
    """

    __tablename__ = "slice_cells"
    __table_args__ = (
        UniqueConstraint(
            "project_id", "reducer", "window_start", "cell", "component", name="uq_slice_cells_cell"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    reducer: Mapped[str] = mapped_column(String(NAME_LEN))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    cell: Mapped[str] = mapped_column(String(2048))
    component: Mapped[str] = mapped_column(String(NAME_LEN))
    rows: Mapped[int] = mapped_column(BigInteger())
    n: Mapped[int] = mapped_column(BigInteger())
    total: Mapped[float] = mapped_column(Float())
    total_sq: Mapped[float] = mapped_column(Float())
    value_max: Mapped[float | None] = mapped_column(Float(), nullable=True)
    errors: Mapped[int] = mapped_column(BigInteger())


class SliceExplore(Base):
    """One reducer's discovery state (migration 0014): the explored tags' kept values and the last findings."""

    __tablename__ = "slice_explore"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    reducer: Mapped[str] = mapped_column(String(NAME_LEN), primary_key=True)
    vocab: Mapped[Any] = mapped_column(json_type(), nullable=True)
    findings: Mapped[Any] = mapped_column(json_type(), nullable=True)
    discovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
