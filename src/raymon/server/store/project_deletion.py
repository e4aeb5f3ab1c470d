"""Deleting one project and everything of it: the SQL behind ``raymon demo reset``.

``delete_project`` removes, in the caller's transaction, every row that belongs to the project
(its traces with their tags (and their reduce queue rows), texts and objects, the idempotency ledger, mapper runs, profiles,
manifests, reducer states and results, issues and their history, alert deliveries, jobs,
invitations, API keys with their access tokens, memberships) and then the project row, whose
``ON DELETE CASCADE`` foreign keys catch a project table added later. Object-store bodies are
deleted before their rows (a missing file is no error), so a failed transaction orphans no
row; a committed one may leave no file behind. Children go before parents, so nothing relies on
cascades of SQLite's or PostgreSQL's. Every statement names the project: nothing of another
project is touched. It decides no policy (which project may go): the service does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from raymon.server.store.models import (
    AccessToken,
    AlertAttempt,
    AlertChannelDisabled,
    AlertDelivery,
    ApiKey,
    DataObject,
    IngestedEvent,
    Invitation,
    Issue,
    IssueHistory,
    Job,
    Manifest,
    MapperRun,
    Membership,
    Profile,
    Project,
    ReduceQueue,
    ReduceResult,
    ReducerState,
    Tag,
    TextLine,
    Trace,
)
from raymon.server.store.objects import ObjectStore


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def delete_project(session: Session, object_store: ObjectStore, project_id: str) -> dict[str, int]:
    """Delete ``project_id`` and all its rows; answer the rows deleted per table (``projects``: 0 or 1)."""
    deleted: dict[str, int] = {}
    for store_key in session.scalars(
        select(DataObject.store_key).where(
            DataObject.project_id == project_id, DataObject.store_key.is_not(None)
        )
    ):
        if store_key:
            object_store.delete(store_key)
    deliveries = select(AlertDelivery.id).where(AlertDelivery.project_id == project_id)
    issues = select(Issue.id).where(Issue.project_id == project_id)
    keys = select(ApiKey.id).where(ApiKey.project_id == project_id)
    statements: list[tuple[str, Any]] = [
        ("mapper_runs", delete(MapperRun).where(MapperRun.project_id == project_id)),
        ("objects", delete(DataObject).where(DataObject.project_id == project_id)),
        ("reduce_queue", delete(ReduceQueue).where(ReduceQueue.project_id == project_id)),
        ("tags", delete(Tag).where(Tag.project_id == project_id)),
        ("texts", delete(TextLine).where(TextLine.project_id == project_id)),
        ("traces", delete(Trace).where(Trace.project_id == project_id)),
        ("events", delete(IngestedEvent).where(IngestedEvent.project_id == project_id)),
        ("reduce_results", delete(ReduceResult).where(ReduceResult.project_id == project_id)),
        ("reducer_states", delete(ReducerState).where(ReducerState.project_id == project_id)),
        ("issue_history", delete(IssueHistory).where(IssueHistory.issue_id.in_(issues))),
        ("issues", delete(Issue).where(Issue.project_id == project_id)),
        ("alert_attempts", delete(AlertAttempt).where(AlertAttempt.delivery_pk.in_(deliveries))),
        ("alert_deliveries", delete(AlertDelivery).where(AlertDelivery.project_id == project_id)),
        (
            "alert_channels_disabled",
            delete(AlertChannelDisabled).where(AlertChannelDisabled.project_id == project_id),
        ),
        ("jobs", delete(Job).where(Job.project_id == project_id)),
        ("profiles", delete(Profile).where(Profile.project_id == project_id)),
        ("manifests", delete(Manifest).where(Manifest.project_id == project_id)),
        ("invitations", delete(Invitation).where(Invitation.project_id == project_id)),
        ("access_tokens", delete(AccessToken).where(AccessToken.key_id.in_(keys))),
        ("api_keys", delete(ApiKey).where(ApiKey.project_id == project_id)),
        ("memberships", delete(Membership).where(Membership.project_id == project_id)),
        ("projects", delete(Project).where(Project.id == project_id)),
    ]
    for name, statement in statements:
        deleted[name] = _count(session.execute(statement.execution_options(synchronize_session=False)))
    return deleted
