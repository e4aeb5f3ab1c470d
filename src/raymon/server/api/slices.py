"""Slice analytics routes: rank a reducer's slices, A/B test two versions, the worst slices found, promote one.

Reading (rank, A/B, discovered slices) needs the ``read`` scope, as ``/results`` does; running a
discovery now and promoting a slice into the manifest need ``admin``. Thin: parse, authorise,
call ``services.slices``. Routes never talk SQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from raymon.server.api.deps import AdminAccess, BackendDep, ReadAccess
from raymon.server.api.params import DateTimeParam
from raymon.server.api.reading import checked_text, required_text
from raymon.server.services import slices

_NO_NUL = "^[^\\x00]*$"
router = APIRouter(prefix="/api/v1/projects/{project_id}/slices", tags=["slices"])

Reducer = Annotated[
    str, Query(description="The reducer's name (a profile_reducer's is the profile's name@version)")
]
Metric = Annotated[
    str,
    Query(
        description="A score (MAE, accuracy, ...), a numeric component (its mean), or '<component>-error' "
        "(its error rate)"
    ),
]
Begin = Annotated[
    DateTimeParam | None, Query(description="Only windows starting at or after this time (RFC 3339)")
]
End = Annotated[DateTimeParam | None, Query(description="Only windows starting before this time (RFC 3339)")]
MinN = Annotated[
    int, Query(ge=2, le=1_000_000_000, description="Below this many values a side says 'not enough data'")
]


class Promotion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slicestr: str = Field(
        ...,
        min_length=1,
        max_length=1024,
        pattern=_NO_NUL,
        description="The slice (a filter expression), e.g. `camera==c7`",
    )
    name: str | None = Field(
        None, max_length=256, pattern=_NO_NUL, description="The slice's name in the manifest"
    )
    description: str | None = Field(None, max_length=4096, pattern=_NO_NUL)


@router.get("/rank")
def slices_rank(
    backend: BackendDep,
    access: ReadAccess,
    reducer: Reducer,
    metric: Metric,
    begin: Begin = None,
    end: End = None,
    space: str | None = Query(None, description="Only the slices of this space (its tags, comma-separated)"),
    min_n: MinN = slices.DEFAULT_MIN_N,
) -> dict[str, Any]:
    """Every slice of the reducer against the rest of the traffic on one metric, worst first."""
    return slices.rank(
        backend,
        access.project_id,
        required_text("reducer", reducer),
        required_text("metric", metric),
        begin,
        end,
        checked_text("space", space),
        min_n,
    )


@router.get("/ab")
def slices_ab(
    backend: BackendDep,
    access: ReadAccess,
    reducer: Reducer,
    tag: str = Query(
        ...,
        description="The tag telling the versions apart ('profile': two profile versions, paired)",
    ),
    a: str = Query(..., description="Version a (a value of the tag)"),
    b: str = Query(..., description="Version b"),
    begin: Begin = None,
    end: End = None,
    expected_share_a: float = Query(0.5, gt=0, lt=1, description="The share of traffic a should get"),
    min_n: MinN = slices.DEFAULT_MIN_N,
) -> dict[str, Any]:
    """Versions a and b compared on every score and component, with the sample-ratio-mismatch check."""
    return slices.ab_test(
        backend,
        access.project_id,
        required_text("reducer", reducer),
        required_text("tag", tag),
        required_text("a", a),
        required_text("b", b),
        begin,
        end,
        expected_share_a,
        min_n,
    )


@router.get("/discovered")
def slices_discovered(
    backend: BackendDep,
    access: ReadAccess,
    reducer: Reducer,
    metric: Metric,
    top: int = Query(10, ge=1, le=100, description="How many slices"),
) -> dict[str, Any]:
    """The worst slices the last discovery run found on one metric (explored tags, up to 3 conditions)."""
    return slices.discovered(
        backend, access.project_id, required_text("reducer", reducer), required_text("metric", metric), top
    )


@router.post("/discover")
def slices_discover_now(backend: BackendDep, access: AdminAccess, reducer: Reducer) -> dict[str, Any]:
    """Run discovery for the reducer now (it also runs on schedule) and answer its findings."""
    return slices.discover(backend, access.project_id, required_text("reducer", reducer))


@router.post("/promote")
def slices_promote(body: Promotion, backend: BackendDep, access: AdminAccess) -> dict[str, Any]:
    """Track a slice: the manifest's next version lists it (unchanged when it is tracked already)."""
    return slices.promote(
        backend,
        access.project_id,
        required_text("slicestr", body.slicestr),
        checked_text("name", body.name),
        checked_text("description", body.description),
    )
