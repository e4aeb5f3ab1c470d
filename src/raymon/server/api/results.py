"""Reduce result routes: check results as time series, and production profiles merged from window states.

Thin: parse, authorise with the ``read`` scope, call ``services.results``. Routes never talk SQL.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from raymon.server.api.deps import get_backend
from raymon.server.api.params import DateTimeParam
from raymon.server.api.reading import ReadAccess, checked_text, required_text
from raymon.server.services import results

router = APIRouter(prefix="/api/v1/projects/{project_id}", tags=["results"])

_SLICE_HELP = (
    "A slice's slicestr as the manifest names it (`client==Zillow`); empty for the global slice; "
    "a space's rest is `other(tag,...)`"
)
Begin = Annotated[
    DateTimeParam | None, Query(description="Only windows starting at or after this time (RFC 3339)")
]
End = Annotated[DateTimeParam | None, Query(description="Only windows starting before this time (RFC 3339)")]


@router.get("/results")
def results_get(
    request: Request,
    access: ReadAccess,
    reducer: str = Query(
        ..., description="The reducer's name (a profile_reducer's is the profile's name@version)"
    ),
    slice: str | None = Query(None, description=_SLICE_HELP + "; absent: every slice"),  # noqa: A002
    begin: Begin = None,
    end: End = None,
) -> dict[str, Any]:
    """A reducer's check results per window: one series per slice, component, check and metric."""
    return results.results(
        get_backend(request),
        access.project_id,
        required_text("reducer", reducer),
        checked_text("slice", slice),
        begin,
        end,
    )


@router.get("/profiles/{profile_ref}/production")
def profile_production(
    profile_ref: str,
    request: Request,
    access: ReadAccess,
    slice: str = Query("", description=_SLICE_HELP),  # noqa: A002
    begin: Begin = None,
    end: End = None,
) -> Response:
    """The production profile (a ModelProfile's JSON) of one slice and time range, merged from the reducer's windows."""
    body = results.production_profile(
        get_backend(request),
        access.project_id,
        required_text("profile_ref", profile_ref),
        begin,
        end,
        required_text("slice", slice),
    )
    return Response(orjson.dumps(body), media_type="application/json")
