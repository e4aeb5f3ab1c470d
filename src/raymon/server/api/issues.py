"""Issue routes: list a project's issues, one with its history, and ack, mute or tune one.

Reading needs the ``read`` scope; ack, mute and tune change who is told and when an issue
opens, so they need ``admin``. They stop notifications, never evaluation. Routes never talk
SQL: they call ``services.issues``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from raymon.server.api.deps import AdminAccess, BackendDep, ReadAccess
from raymon.server.api.params import DateTimeParam
from raymon.server.api.reading import checked_text
from raymon.server.services import issues

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["issues"])

IssueId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The issue's id (`issue_id` of the list)")]
IssueStatusParam = Literal["normal", "pending", "open", "recovering", "resolved"]


class IssueMute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: DateTimeParam | None = Field(
        None, description="Muted until this time (RFC 3339 with offset); null: until muted again with a time"
    )


class IssueTune(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(
        None, description="The threshold of the issue's metric, instead of the profile's"
    )
    open_after: int | None = Field(
        None, ge=1, le=issues.MAX_WINDOW_COUNT, description="Breaching windows to open"
    )
    window_count: int | None = Field(
        None, ge=1, le=issues.MAX_WINDOW_COUNT, description="...of the last this many windows"
    )


@router.get("/issues")
def issues_list(
    backend: BackendDep,
    access: ReadAccess,
    status: Annotated[
        IssueStatusParam | None, Query(description="Only issues in this state (default: all but normal)")
    ] = None,
    slicestr: str | None = Query(None, description='Only issues of this slice ("" the global slice)'),
) -> dict[str, Any]:
    """The project's issues, open ones first, by priority (score and performance above integrity above drift)."""
    return issues.list_issues(backend, access.project_id, status, checked_text("slicestr", slicestr))


@router.get("/issues/{issue_id}")
def issue_get(issue_id: IssueId, backend: BackendDep, access: ReadAccess) -> dict[str, Any]:
    """One issue with its history: every transition and action, with the window values behind it."""
    return issues.get_issue(backend, access.project_id, issue_id)


@router.post("/issues/{issue_id}/ack")
def issue_ack(issue_id: IssueId, backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """Acknowledge the issue: its further events are not notified (it is still evaluated)."""
    return issues.ack(backend, access.project_id, issue_id, access.principal.id)


@router.post("/issues/{issue_id}/mute")
def issue_mute(
    issue_id: IssueId, body: IssueMute, backend: BackendDep, access: AdminAccess
) -> dict[str, Any]:
    """Mute the issue's notifications until a time (a past time unmutes); it is still evaluated."""
    return issues.mute(backend, access.project_id, issue_id, body.until)


@router.post("/issues/{issue_id}/tune")
def issue_tune(
    issue_id: IssueId, body: IssueTune, backend: BackendDep, access: AdminAccess
) -> dict[str, Any]:
    """Tune when the issue opens: its threshold, and how many of the last n windows must breach."""
    return issues.tune(
        backend, access.project_id, issue_id, body.threshold, body.open_after, body.window_count
    )
