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
    Float,
    ForeignKey,
    Index,
    Integer,
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


class ReduceResult(Base):
    """A reducer's mergeable state and result for one slice and window."""

    __tablename__ = "reduce_results"
    __table_args__ = (
        UniqueConstraint("project_id", "reducer", "slice", "window_start", name="uq_reduce_results_window"),
        Index("ix_reduce_results_project_reducer_end", "project_id", "reducer", "window_end"),
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


class Issue(Base):
    __tablename__ = "issues"
    __table_args__ = (Index("ix_issues_project_status_last", "project_id", "status", "last_seen"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(1024))  # what makes two detections the same issue
    reducer: Mapped[str] = mapped_column(String(NAME_LEN))
    slice: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(32))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    details: Mapped[Any] = mapped_column(json_type(), nullable=True)


class AlertDelivery(Base):
    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_issue", "issue_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(NAME_LEN))
    status: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    last_error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Job(Base):
    """A unit of engine work, taken with a lease (``lease_until``) by one worker at a time."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_run_at", "status", "run_at"),
        Index("ix_jobs_project_kind", "project_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(1024), nullable=True, unique=True)
    payload: Mapped[Any] = mapped_column(json_type(), nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    leased_by: Mapped[str | None] = mapped_column(String(NAME_LEN), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
