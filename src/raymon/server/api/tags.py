"""Tag statistics for building filters: names, types, trace counts, numeric ranges, common values.

Thin: authorise, call ``services.tags.recent_tag_stats``, answer JSON (with its ``Age``). Routes never talk SQL.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from raymon.server.api.deps import get_backend
from raymon.server.api.reading import ReadAccess, checked_text
from raymon.server.services import tags
from raymon.server.services.paging import MAX_PAGE
from raymon.server.services.tags import DEFAULT_STATS_SAMPLE, MAX_STATS_SAMPLE

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["tags"])


@router.get("/tags")
def tags_list(
    request: Request,
    response: Response,
    access: ReadAccess,
    name: str | None = Query(None, description="Only this tag name"),
    values: int = Query(
        20, ge=0, le=MAX_PAGE, description="How many of the most common values to list per name"
    ),
    sample: int = Query(
        DEFAULT_STATS_SAMPLE,
        ge=0,
        le=MAX_STATS_SAMPLE,
        description="Count over this many of the latest received traces (0: every trace, a full scan)",
    ),
) -> list[dict[str, Any]]:
    """Every tag name with `types` (type -> count), `count`, `numeric` range, top `values` and `distinct_values`.

    Counted at most `RAYMON_TAG_STATS_MAX_AGE_SECONDS` ago (default 30; the `Age` header says how
    long); a request with `Cache-Control: no-cache` has them counted now.
    """
    fresh = "no-cache" in request.headers.get("cache-control", "").lower()
    answer = tags.recent_tag_stats(
        get_backend(request),
        access.project_id,
        checked_text("name", name),
        values,
        sample,
        max_age=0.0 if fresh else None,
    )
    response.headers["Age"] = str(int(answer.age))
    response.headers["Cache-Control"] = "private, no-cache"
    return answer.stats
