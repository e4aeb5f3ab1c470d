"""Fuzz every operation of the OpenAPI spec (/openapi.json) against a real server, with every check.

Schemathesis generates requests from the spec (valid and invalid parameters,
bodies, path segments, methods the path does not have) and runs all its
checks on each answer (``schemathesis run --checks all``): no 500, every
status, content type, header and body as the document declares, invalid data
refused, valid data accepted. Each request carries a valid admin key and, for
most cases, names the project that holds data (so the query code runs, not
only the authorisation check); generated ingest events are given that project
too, so they reach the store. Bounded: a few dozen examples per operation, a
couple of minutes per database.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, settings
from query_events import QueryProject, event, tags_event
from schemathesis.checks import CHECKS, load_all_checks

import raymon.types as rt
from raymon.server.services.text_params import TEXT_PARAM_MAX

EXAMPLES_PER_OPERATION = 30
_CALLS = itertools.count()
_MANIFEST_CALLS = itertools.count()
INGEST_PATHS = ("/api/v1/projects/{project_id}/ingest", "/api/v1/projects/{project_id}/ingest_batch")
# An ingest body is judged record by record: an array with some bad events stores the good ones and
# answers 207 naming the bad (docs/server.md), so for those routes a refusal of invalid data is a 4xx or a 207.
INGEST_REFUSALS = ["4xx", 207]
# A body the schema calls valid (any text) is a manifest only the server's checks can judge (docs/manifest.md):
# refusing it with 422 and every error is an answer the document promises, as accepting it is.
MANIFEST_PATH = "/api/v1/projects/{project_id}/manifest"
PROFILE_PATH = "/api/v1/projects/{project_id}/profiles/{profile_ref}"
ORIGINAL_APPLY_PATH = "/api/v1/projects/{project_id}"  # the original client's orchestration_apply (PUT)
MANIFEST_ANSWERS = ["2xx", 401, 403, 404, 422]
# A slice to promote is a filter expression only the server's parser can judge (docs/slices.md), as a manifest is.
PROMOTE_PATH = "/api/v1/projects/{project_id}/slices/promote"

load_all_checks()
ALL_CHECKS = CHECKS.get_all()


# Values no schema can tell valid from invalid (a tag filter's grammar, an opaque cursor, a password
# needed only for a user not yet known): a case the fuzzer generated as valid gets a real one, so
# "valid data is accepted" is checked on everything else.
VALID_FILTERS = ["client==c1", 'n>3 && text=="a b"', "!(client==c0) || n<=2"]
VALID_MANIFESTS = ["slices:\n  - slicestr: client==c1\n", "settings:\n  reducer_interval_s: 120\n"]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> bytes:
    """One JSON document a line (the generated body is the array of records)."""
    if isinstance(value, bytes):
        return value
    lines = value if isinstance(value, list) else [value]
    return b"\n".join(json.dumps(line).encode() for line in lines)  # json: integers past 64 bits too


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
    config = schemathesis.Config.from_dict(
        {
            "operations": [
                {
                    "include-path": path,
                    "checks": {"negative_data_rejection": {"expected-statuses": INGEST_REFUSALS}},
                }
                for path in INGEST_PATHS
            ]
            + [
                {
                    "include-path": path,
                    "include-method": "PUT",
                    "checks": {"positive_data_acceptance": {"expected-statuses": MANIFEST_ANSWERS}},
                }
                for path in (MANIFEST_PATH, ORIGINAL_APPLY_PATH)
            ]
            + [
                {
                    "include-path": PROMOTE_PATH,
                    "checks": {"positive_data_acceptance": {"expected-statuses": MANIFEST_ANSWERS}},
                }
            ]
        }
    )
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


def _is_the_invalid_part(case: Any, location: str) -> bool:
    """Whether a negative case's ``location`` ("header", "path") was generated invalid."""
    from schemathesis.generation.meta import ParameterLocation

    if case.meta is None or case.meta.generation.mode.is_positive:
        return False
    info = case.meta.components.get(ParameterLocation(location))
    return info is not None and info.mode.is_negative


def _in_project(body: Any, project_id: str) -> Any:
    """Generated events moved into the URL's project (another project's event is refused by design)."""
    records = body if isinstance(body, list) else [body]
    for record in records:
        if isinstance(record, dict) and isinstance(record.get("project_id"), str):
            record["project_id"] = project_id
    return body


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_the_one_the_document_promises(
    case: Any, server: Any, fuzz_project: QueryProject
) -> None:
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if case.path_parameters and "project_id" in case.path_parameters:
        # Mostly the project with data (the query code runs); sometimes the fuzzer's own (403 path).
        # A project id that is itself the invalid part of a negative case stays, or the case would be valid.
        generated = str(case.path_parameters["project_id"])
        calls = _MANIFEST_CALLS if "/manifest" in case.operation.path else _CALLS  # others' draws unchanged
        if (
            next(calls) % 5
            and not _is_the_invalid_part(case, "path")
            and "\x00" not in generated
            and len(generated) <= TEXT_PARAM_MAX
        ):
            case.path_parameters["project_id"] = fuzz_project.project_id
            if case.operation.path in INGEST_PATHS:
                case.body = _in_project(case.body, fuzz_project.project_id)
    if positive and case.method == "PUT" and case.operation.path in (MANIFEST_PATH, ORIGINAL_APPLY_PATH):
        # Only the manifest's own checks know a good manifest: a valid case mostly gets a real one.
        manifest = VALID_MANIFESTS[next(_MANIFEST_CALLS) % len(VALID_MANIFESTS)]
        if case.media_type == "application/json":
            case.body = {"config": manifest}
        else:  # schemathesis writes a YAML body as YAML: give it the document, not its text
            case.body = yaml.safe_load(manifest)
    if positive and case.query:
        if case.query.get("filter") is not None:
            case.query["filter"] = VALID_FILTERS[next(_CALLS) % len(VALID_FILTERS)]
        case.query.pop("cursor", None)
    if (
        not positive
        and case.meta is not None
        and not any(info.mode.is_negative for info in case.meta.components.values())
    ):
        return  # a negative case none of whose parts came out invalid ("positive test case"): nothing to refuse
    if _is_the_invalid_part(case, "header"):
        return  # every call carries the fuzz project's key: a case whose invalid part is a header tests nothing
    checks = ALL_CHECKS
    if case.method == "GET" and case.operation.path == PROFILE_PATH:
        # Its "negative" cases come out valid (schemathesis labels them "positive test case": two path
        # values, both within their patterns), and the profile they name exists once the fuzzer has
        # posted it, so a 200 is the right answer there, not an accepted bad request.
        checks = [check for check in ALL_CHECKS if check.__name__ != "negative_data_rejection"]
    case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": f"Bearer {fuzz_project.admin_key}"},
        checks=checks,
        timeout=30,
    )
