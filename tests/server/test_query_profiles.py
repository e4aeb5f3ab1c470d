"""Profiles over HTTP on a real server: stored by name@version, immutable, listed and fetched back."""

from __future__ import annotations

from typing import Any

import pytest
from query_events import QueryProject


class FakeProfile:
    """Anything with ``to_jcr()``: what ``profile_create`` sends for a ``ModelProfile``."""

    def __init__(self, name: str, version: str, payload: Any) -> None:
        self.jcr = {"name": name, "version": version, "components": payload}

    def to_jcr(self) -> dict[str, Any]:
        return self.jcr


@pytest.fixture
def project(server: Any) -> QueryProject:
    return QueryProject.create(server, "profiles")


def test_a_profile_is_stored_listed_and_fetched_by_name_at_version(project: QueryProject) -> None:
    profile = FakeProfile("houseprices", "3.0.0", [{"name": "price", "stats": {"mean": 1.5}}])
    with project.api() as api:
        created = api.profile_create(project.project_id, profile)
        assert created.status_code == 201, created.text
        assert created.json()["ref"] == "houseprices@3.0.0"
        assert (
            api.profile_create(project.project_id, {"name": "houseprices@3.1.0", "x": 1}).status_code == 201
        )
        listed = api.profile_ls(project.project_id).json()
        fetched = api.profile_get(project.project_id, "houseprices@3.0.0")
        by_parts = api.profile_get(project.project_id, "houseprices", "3.1.0")
    assert [(p["name"], p["version"]) for p in listed] == [("houseprices", "3.0.0"), ("houseprices", "3.1.0")]
    assert fetched.json() == profile.jcr
    assert by_parts.json() == {"name": "houseprices@3.1.0", "x": 1}


def test_storing_the_same_profile_again_is_a_no_op_but_different_content_is_a_conflict(
    project: QueryProject,
) -> None:
    with project.api() as api:
        assert api.profile_create(project.project_id, FakeProfile("p", "1", [1, 2])).status_code == 201
        again = api.profile_create(project.project_id, FakeProfile("p", "1", [1, 2]))
        clash = api.profile_create(project.project_id, FakeProfile("p", "1", [1, 3]))
        kept = api.profile_get(project.project_id, "p@1").json()
    assert again.status_code == 200
    assert clash.status_code == 409 and "p@1" in clash.json()["detail"]
    assert kept["components"] == [1, 2]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"version": "1"}, "needs a 'name'"),
        ({"name": "p"}, "has no 'version'"),
        ({"name": "p@1", "version": "2"}, "says version '1'"),
        ({"name": "bad name", "version": "1"}, "profile name"),
        ({"name": "p", "version": "1/2"}, "profile version"),
        ({"name": "p@1@2"}, "one '@'"),
        ([1, 2], "a profile must be a JSON object, got list"),
    ],
)
def test_profiles_that_do_not_name_themselves_are_refused_with_422(
    project: QueryProject, body: Any, words: str
) -> None:
    with project.api() as api:
        resp = api.profile_create(project.project_id, body)
    assert resp.status_code == 422, resp.text
    assert words in resp.text


def test_unknown_or_malformed_profile_refs(project: QueryProject) -> None:
    with project.api() as api:
        missing = api.profile_get(project.project_id, "nope@1")
        malformed = api.profile_get(project.project_id, "no-version")
    assert missing.status_code == 404 and "nope@1" in missing.json()["detail"]
    assert malformed.status_code == 422 and "name@version" in malformed.json()["detail"]


def test_storing_needs_ingest_and_reading_needs_read(project: QueryProject) -> None:
    read_only = project.new_key("read")
    ingest_only = project.new_key("ingest")
    with project.api(key=read_only) as api:
        assert api.profile_create(project.project_id, FakeProfile("p", "1", [])).status_code == 403
    with project.api(key=ingest_only) as api:
        assert api.profile_create(project.project_id, FakeProfile("p", "1", [])).status_code == 201
        assert api.profile_ls(project.project_id).status_code == 403
    with project.api(key=read_only) as api:
        assert api.profile_get(project.project_id, "p@1").json()["name"] == "p"


@pytest.mark.parametrize(
    ("name", "version", "words"),
    [
        ("n" * 65, "1", "profile name must be 1 to 64"),
        ("p", "v" * 65, "profile version must be 1 to 64"),
        ("n" * 64, "v" * 64, "name@version must be at most 128"),
    ],
)
def test_the_server_refuses_names_the_client_refuses_with_422_naming_the_rule(
    project: QueryProject, name: str, version: str, words: str
) -> None:
    """The client's rule (raymon.profile_names), so no profile is stored that a client could not make."""
    with project.api() as api:
        created = api.profile_create(project.project_id, FakeProfile(name, version, []))
        fetched = api.profile_get(project.project_id, f"{name}@{version}")
        listed = api.get(f"/api/v1/projects/{project.project_id}/profiles", params={"name": name})
    assert created.status_code == 422 and words in created.json()["detail"], created.text
    assert fetched.status_code == 422 and words in fetched.json()["detail"], fetched.text
    if len(name) > 64:  # listing by name checks the name alone
        assert listed.status_code == 422 and words in listed.json()["detail"], listed.text


def test_the_server_stores_the_longest_names_the_client_makes(project: QueryProject) -> None:
    from raymon.profiling import ModelProfile

    longest = ModelProfile("n" * 64, "v" * 63)
    with project.api() as api:
        created = api.profile_create(project.project_id, FakeProfile(longest.name, longest.version, []))
        fetched = api.profile_get(project.project_id, longest.group_idfr)
    assert created.status_code == 201, created.text
    assert fetched.status_code == 200
