"""Fuzz every operation of the OpenAPI spec (/openapi.json) against a real server: no input gives a 500.

Schemathesis generates requests from the spec (valid and invalid parameters,
bodies, path segments); each is sent with a valid admin key, to the project
that holds data (so the query code runs, not only the authorisation check)
and, for a share of cases, to the project the fuzzer made up. Bounded: a few
dozen examples per operation, a couple of minutes in all.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from query_events import QueryProject, event, tags_event
from schemathesis.checks import not_a_server_error

import raymon.types as rt

EXAMPLES_PER_OPERATION = 30
_CALLS = itertools.count()


@pytest.fixture(scope="module")
def fuzz_project(server: Any) -> QueryProject:
    project = QueryProject.create(server, "fuzzing")
    events = []
    for i in range(10):
        ts = f"2026-06-01T00:00:{i:02d}+00:00"
        events.append(tags_event(f"f{i}", ts, {"client": f"c{i % 3}", "n": i, "text": "a b"}))
        events.append(event(f"f{i}", "text", ts, level="info", message=f"message {i}"))
        events.append(event(f"f{i}", "object", ts, ref="features", data=rt.Native([i, i]).to_jcr()))
    project.ingest(events)
    return project


@pytest.fixture(scope="module")
def api_schema(server: Any, fuzz_project: QueryProject) -> Any:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_request_makes_the_server_fail(case: Any, server: Any, fuzz_project: QueryProject) -> None:
    if case.path_parameters and "project_id" in case.path_parameters:
        # Mostly the project with data (the query code runs); sometimes the fuzzer's own (403 path).
        if next(_CALLS) % 5:
            case.path_parameters["project_id"] = fuzz_project.project_id
    response = case.call(
        base_url=server.url, headers={"Authorization": f"Bearer {fuzz_project.admin_key}"}, timeout=30
    )
    case.validate_response(response, checks=[not_a_server_error])
