"""Manifests through a real server, on SQLite and PostgreSQL: the original's documents apply as written,
a bad manifest is refused whole with every error's path, line and column (the previous one stays in
force), every version is kept, secrets are never shown back, and the client and CLI speak the same.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from manifest_fixtures import ManifestProject, plugin_env

from raymon.api import RaymonAPI
from raymon.exceptions import ManifestError
from raymon.server.services import manifests

DOCS = Path(__file__).resolve().parents[2] / "docs" / "manifest.md"

# The original Raymon's documents, as its users wrote them (the manifest page, the walkthrough's
# three manifests and the slices page).
ORIGINAL_MANIFEST_PAGE = """\
project_id: retinopathy
actions:
  visualize:
    - name: show_request_data
      function: img2html
      inputs:
        data: request_data
    - name: show_resized_data
      function: img2html
      inputs:
        data: resized_data

  reduce:
    - reducer_type: profile_reducer
      name: retinopathy@3.0.0
      reducer_interval_m: 10

  map:
    - name: profile_eval
      mapper_type: profile_eval
      profile: retinopathy@3.0.0
      inputs:
        output: model_prediction # Ref
        actual: actual

slices:
  - space:
      - tag: machine_id

"""
WALKTHROUGH_VISUALS = """\
project_id: retinopathy

actions:
  visualize:
    - name: show_request_data
      function: img2html
      inputs:
        data: request_data
    - name: show_resized_data
      function: img2html
      inputs:
        data: resized_data

"""
WALKTHROUGH_MONITORING = """\
project_id: retinopathy

actions:
  visualize:
    - name: show_request_data
      function: img2html
      inputs:
        data: request_data
      params: null
    - name: show_resized_data
      function: img2html
      inputs:
        data: resized_data
      params: null

  reduce:
    - reducer_type: profile_reducer
      name: retinopathy@3.0.0
      reducer_interval_m: 10
"""
ORIGINAL_SLICES_PAGE = """\
slices:
  - slicestr: client==Remax && app==v1.0.0
  - space:
      - tag: client
  - space:
      - tag: client
      - tag: app
"""
ORIGINALS = {
    "manifest page": ORIGINAL_MANIFEST_PAGE,
    "walkthrough visualisations": WALKTHROUGH_VISUALS,
    "walkthrough monitoring": WALKTHROUGH_MONITORING,
    "walkthrough slices (the complete manifest)": ORIGINAL_MANIFEST_PAGE.replace(
        "project_id: retinopathy", "project_id: retinopathy\n"
    ),
    "slices page": ORIGINAL_SLICES_PAGE,
}

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXsecretslackpath"
ALERT_URL = "https://alerts.example.com/raymon?token=alerttoken123"
ALERT_SECRET = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"
MAPPER_URL = "https://mapper.example.com/run?key=mappertoken456"
MAPPER_SECRET = "whsec_bWFwcGVyc2VjcmV0bWFwcGVy"
SECRETS = [
    SLACK_URL,
    ALERT_URL,
    ALERT_SECRET,
    MAPPER_URL,
    MAPPER_SECRET,
    "XXXXsecretslackpath",
    "alerttoken123",
]
WITH_SECRETS = f"""\
actions:
  map:
    - name: lambda_like
      mapper_type: webhook
      url: {MAPPER_URL}
      secret: "{MAPPER_SECRET}"
      inputs:
        data: request_data
  alert:
    - name: slack_alerting
      type: slack
      webhook: {SLACK_URL}  # from the Slack app page
    - name: pager
      type: webhook
      url: {ALERT_URL}
      secret: {ALERT_SECRET}
      format: alertmanager
"""


@pytest.fixture(scope="module")
def manifest_server(make_module_server: Any) -> Any:
    """A real server whose plugins know img2html, profile_eval, profile_reducer, slack, webhook..."""
    return make_module_server(**plugin_env())


@pytest.fixture
def project(manifest_server: Any) -> ManifestProject:
    return ManifestProject.create(manifest_server)


def _refused(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    errors: list[dict[str, Any]] = body["errors"]
    return errors


def _where(errors: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    return {e["path"]: (e["line"], e["column"]) for e in errors}


# --- the original documents ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ORIGINALS))
def test_the_original_documents_apply_as_written(project: ManifestProject, name: str) -> None:
    response = project.apply(project.manifest(ORIGINALS[name]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 1 and body["changed"] is True and body["project_id"] == project.project_id
    shown = project.get().json()
    assert shown["version"] == 1 and shown["config"] == project.manifest(ORIGINALS[name])


def _doc_yaml_blocks() -> list[tuple[int, str, bool]]:
    """Every ```yaml block of docs/manifest.md: (line, text, refused?)."""
    lines = DOCS.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        words = lines[i].strip().removeprefix("```").split() if lines[i].startswith("```yaml") else []
        if words:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            blocks.append((i + 1, "\n".join(lines[i + 1 : end]) + "\n", "refused" in words[1:]))
            i = end
        i += 1
    return blocks


def test_every_yaml_example_of_the_docs_is_accepted_or_refused_as_the_docs_say(
    project: ManifestProject,
) -> None:
    blocks = _doc_yaml_blocks()
    assert len(blocks) >= 8
    for line, text, refused in blocks:
        response = project.apply(project.manifest(text))
        if refused:
            assert response.status_code == 422, f"docs/manifest.md:{line} should be refused"
        else:
            assert response.status_code == 200, f"docs/manifest.md:{line}: {response.text}"


# --- refusals -------------------------------------------------------------------------------------

BAD = """\
project_id: not-this-project
actions:
  visualize:
    - name: show
      function: img2htm
      inputs:
        data: request_data
  map:
    - name: eval
      mapper_type: profile_eval
      profile: retinopathy@9.9.9
      inputs:
        output: "bad ref!\\n"
        actual: actual
    - name: eval
      mapper_type: webhook
      url: ftp://example.com/x
      inputs: {}
  reduce:
    - reducer_type: profile_reducer
      name: retinopathy@3.0.0
      reducer_interval_mins: 10
  sequence_map: []
slices:
  - slicestr: client==Remax &&
  - space:
      - tag: machine_id
    slicestr: a==b
"""


def test_a_bad_manifest_is_refused_whole_with_every_error_where_it_is_written(
    project: ManifestProject,
) -> None:
    good = project.apply(project.manifest(ORIGINAL_MANIFEST_PAGE))
    assert good.status_code == 200
    errors = _refused(project.apply(BAD))
    where = _where(errors)
    assert where["project_id"] == (1, 13)
    assert where["actions.visualize[0].function"] == (5, 17)
    assert where["actions.map[0].profile"] == (11, 16)
    assert where["actions.map[0].inputs.output"] == (13, 17)
    assert where["actions.map[1].name"] == (15, 13)
    assert where["actions.map[1].url"] == (17, 12)
    assert where["actions.map[1].inputs"] == (18, 15)
    assert where["actions.reduce[0].reducer_interval_mins"] == (22, 7)
    assert where["actions.sequence_map"] == (23, 3)
    assert where["slices[0].slicestr"][0] == 25 and where["slices[0].slicestr"][1] > 16
    assert where["slices[1]"] == (26, 5)
    messages = {e["path"]: e["message"] for e in errors}
    assert "'not-this-project'" in messages["project_id"] and project.project_id in messages["project_id"]
    assert messages["actions.visualize[0].function"].startswith(
        "unknown visualisation type 'img2htm'; known: "
    )
    assert "img2html" in messages["actions.visualize[0].function"]
    assert "never uploaded" in messages["actions.map[0].profile"]
    assert "ref must be" in messages["actions.map[0].inputs.output"]
    assert "second map action named 'eval'" in messages["actions.map[1].name"]
    assert "http(s) URL" in messages["actions.map[1].url"] and "ftp://" not in messages["actions.map[1].url"]
    assert "at least one input" in messages["actions.map[1].inputs"]
    assert "did you mean 'reducer_interval_" in messages["actions.reduce[0].reducer_interval_mins"]
    assert "unknown action kind 'sequence_map'" in messages["actions.sequence_map"]
    assert "either slicestr or space" in messages["slices[1]"]
    assert [(e["line"], e["column"]) for e in errors] == sorted((e["line"], e["column"]) for e in errors)
    current = project.get().json()
    assert current["version"] == 1 and current["config"] == project.manifest(ORIGINAL_MANIFEST_PAGE)
    assert [v["version"] for v in project.history().json()["versions"]] == [1]


def test_a_yaml_syntax_error_names_its_line_and_column(project: ManifestProject) -> None:
    # The original's "native types" snippet, as printed: a mapping value where none may start.
    errors = _refused(
        project.apply("actions:\n  visualize:\n    - name: show_pred\n        data: model_prediction\n")
    )
    assert len(errors) == 1 and errors[0]["message"].startswith("YAML syntax: ")
    assert errors[0]["line"] == 4


def test_the_original_lambda_hook_actions_are_refused_pointing_to_the_webhook_mapper(
    project: ManifestProject,
) -> None:
    text = """\
actions:
  map:
    - name: dummy_aws_hook
      mapper_type: lambda_hook
      function: dummy-mapper
      settings:
        aws_access_key_id: AKIAEXAMPLE
        aws_secret_access_key: verysecretawskey
        aws_region: eu-central-1
      inputs:
        data: request_data
"""
    errors = _refused(project.apply(text))
    assert len(errors) == 1, errors  # not also "unknown key 'settings'"
    assert errors[0]["path"] == "actions.map[0].mapper_type" and (errors[0]["line"], errors[0]["column"]) == (
        4,
        20,
    )
    assert "mapper_type: webhook" in errors[0]["message"]
    assert "verysecretawskey" not in project.apply(text).text


def test_the_alert_under_visualize_of_the_original_page_is_refused_saying_where_it_belongs(
    project: ManifestProject,
) -> None:
    text = "actions:\n  visualize: # On demand\n    alert:\n    - name: slack_alerting\n      type: slack\n      webhook: https://hooks.slack.com/services/x\n"
    errors = _refused(project.apply(text))
    assert errors[0]["path"] == "actions.visualize"
    assert "alert belongs under actions, next to visualize" in errors[0]["message"]
    assert "hooks.slack.com" not in project.apply(text).text


def test_missing_inputs_unknown_reducers_and_profiles_are_named_from_the_registry(
    project: ManifestProject,
) -> None:
    text = """\
actions:
  map:
    - name: eval
      mapper_type: profile_eval
      profile: other@1.0
  reduce:
    - reducer_type: profile_reducer .
      name: retinopathy@3.0.0
"""
    errors = {e["path"]: e["message"] for e in _refused(project.apply(text))}
    assert errors["actions.map[0].inputs"] == "'inputs' is required"
    assert (
        "profile 'other@1.0' was never uploaded to this project (uploaded: retinopathy@3.0.0)"
        in errors["actions.map[0].profile"]
    )
    assert errors["actions.reduce[0].reducer_type"].startswith(
        "unknown reducer type 'profile_reducer .'; known: "
    )
    assert "profile_reducer" in errors["actions.reduce[0].reducer_type"].split("known: ")[1]


def test_duplicate_keys_and_non_mappings_are_refused(project: ManifestProject) -> None:
    errors = _refused(project.apply("slices: []\nslices: []\n"))
    assert errors[0]["message"].startswith("the key 'slices' is given twice (first at line 1)")
    assert (errors[0]["line"], errors[0]["column"]) == (2, 1)
    assert _refused(project.apply("- just\n- a list\n"))[0]["path"] == "(document)"
    assert _refused(project.apply(""))[0]["message"] == "the manifest is empty"
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    assert "more than" in _refused(project.apply(bomb))[0]["message"]


# --- versions -------------------------------------------------------------------------------------


def test_every_applied_version_is_kept_and_the_same_text_again_is_no_new_version(
    project: ManifestProject,
) -> None:
    first = project.apply(ORIGINAL_SLICES_PAGE).json()
    again = project.apply(ORIGINAL_SLICES_PAGE).json()
    assert (first["version"], first["changed"]) == (1, True)
    assert (again["version"], again["changed"]) == (1, False)
    second = project.apply(project.manifest(ORIGINAL_MANIFEST_PAGE)).json()
    assert second["version"] == 2
    history = project.history().json()["versions"]
    assert [v["version"] for v in history] == [2, 1]
    assert history[0]["applied_at"] >= history[1]["applied_at"]
    assert project.get(version=1).json()["config"] == ORIGINAL_SLICES_PAGE
    assert project.get().json()["version"] == 2
    assert project.get(version=7).status_code == 404


def test_a_project_without_a_manifest_answers_404_saying_how_to_apply_one(project: ManifestProject) -> None:
    response = project.get()
    assert response.status_code == 404 and "has no manifest yet" in response.json()["detail"]
    assert project.history().json()["versions"] == []


def test_reading_needs_read_and_applying_needs_admin(project: ManifestProject) -> None:
    reader = _key(project, "read")
    ingester = _key(project, "ingest")
    assert project.apply(ORIGINAL_SLICES_PAGE).status_code == 200
    assert project.get(reader).status_code == 200 and project.history(reader).status_code == 200
    assert project.apply(ORIGINAL_SLICES_PAGE, key=reader).status_code == 403
    assert project.get(ingester).status_code == 403


def _key(project: ManifestProject, scopes: str) -> str:
    with project.client() as client:
        response = client.post(f"/api/v1/projects/{project.project_id}/keys", json={"scopes": scopes})
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def test_the_body_may_be_yaml_text_or_the_original_clients_json(project: ManifestProject) -> None:
    for content_type in ("application/x-yaml", "text/plain; charset=utf-8"):
        assert project.apply(ORIGINAL_SLICES_PAGE, content_type=content_type).status_code == 200
    with project.client() as client:
        as_json = client.put(project.path, json={"config": project.manifest(ORIGINAL_MANIFEST_PAGE)})
        assert as_json.status_code == 200 and as_json.json()["version"] == 2
        wrong = client.put(project.path, json={"cfg": "x"})
        assert wrong.status_code == 422 and "config" in wrong.json()["detail"]
        other = client.put(project.path, content=b"x", headers={"Content-Type": "image/png"})
        assert other.status_code == 415


# --- secrets ---------------------------------------------------------------------------------------


def test_webhook_urls_and_secrets_are_never_shown_back(project: ManifestProject) -> None:
    answers = []
    applied = project.apply(WITH_SECRETS)
    assert applied.status_code == 200, applied.text
    answers.append(applied.text)
    shown = project.get().json()["config"]
    answers += [shown, project.history().text, project.get(version=1).text]
    document = yaml.safe_load(shown)
    assert document["actions"]["alert"][0]["webhook"] == "<redacted>"
    assert document["actions"]["alert"][1]["format"] == "alertmanager"
    assert document["actions"]["map"][0]["url"] == "<redacted>"
    assert "# from the Slack app page" in shown  # the text is the user's, comments kept
    # A bad manifest holding secrets: the errors do not quote them.
    bad = WITH_SECRETS.replace(SLACK_URL, "hooks.slack.com/XXXXsecretslackpath").replace(
        "format: alertmanager", "format: [1]"
    )
    refused = project.apply(bad)
    assert refused.status_code == 422
    answers.append(refused.text)
    api = RaymonAPI(url=project.server.url, api_key=project.admin_key)
    answers.append(api.orchestration_get(project.project_id))
    for answer in answers:
        for secret in SECRETS:
            assert secret not in answer
    for secret in SECRETS:
        assert secret not in project.server.log()


def test_applying_the_redacted_text_again_keeps_the_stored_secrets(project: ManifestProject) -> None:
    assert project.apply(WITH_SECRETS).status_code == 200
    edited = project.get().json()["config"].replace("format: alertmanager", "")
    reapplied = project.apply(edited)
    assert reapplied.status_code == 200, reapplied.text
    assert reapplied.json()["version"] == 2
    stored = _stored_manifest(project)
    assert stored.actions.alert[0].webhook == SLACK_URL
    assert (stored.actions.alert[1].url, stored.actions.alert[1].secret) == (ALERT_URL, ALERT_SECRET)
    assert stored.actions.alert[1].format is None
    assert (stored.actions.map[0].url, stored.actions.map[0].secret) == (MAPPER_URL, MAPPER_SECRET)
    renamed = edited.replace("name: slack_alerting", "name: slack_renamed")
    errors = _refused(project.apply(renamed))
    assert (
        errors[0]["path"] == "actions.alert[0].webhook"
        and "no alert action named 'slack_renamed'" in errors[0]["message"]
    )


def _backend_on(server: Any) -> Any:
    """A Backend of this test process on the server's database: another process, as a worker is."""
    from raymon.server.backend import build_backend
    from raymon.server.settings import Settings

    settings = Settings.from_env({"RAYMON_DATA_DIR": str(server.data_dir)})
    return build_backend(settings, database=server.database())


def _stored_manifest(project: ManifestProject) -> Any:
    backend = _backend_on(project.server)
    try:
        return manifests.current(backend, project.project_id)
    finally:
        backend.close()


def test_current_sees_another_process_apply_within_a_second_its_own_at_once_and_is_cheap(
    project: ManifestProject,
) -> None:
    backend = _backend_on(project.server)
    try:
        assert manifests.current(backend, project.project_id) is None
        assert project.apply(ORIGINAL_SLICES_PAGE).status_code == 200  # by the server process
        applied = time.monotonic()
        while manifests.current(backend, project.project_id) is None:
            assert time.monotonic() - applied < 1.0, "the apply of another process was not seen within 1 s"
            time.sleep(0.01)
        seen = manifests.current(backend, project.project_id)
        assert seen is not None and seen.slices[0].slicestr == "client==Remax && app==v1.0.0"
        calls = 20_000
        started = time.perf_counter()
        for _ in range(calls):
            manifests.current(backend, project.project_id)
        per_call = (time.perf_counter() - started) / calls
        assert per_call < 100e-6, f"current() took {per_call * 1e6:.1f} us per call"
        manifests.apply_manifest(backend, project.project_id, "settings:\n  reducer_interval_s: 120\n")
        mine = manifests.current(backend, project.project_id)
        assert mine is not None and mine.settings.default_interval_s() == 120  # no wait for the TTL
    finally:
        backend.close()


# --- the client and the CLI -------------------------------------------------------------------------


def test_the_client_applies_reads_and_lists_and_raises_every_error(project: ManifestProject) -> None:
    api = RaymonAPI(url=project.server.url, api_key=project.admin_key)
    resp = api.orchestration_apply(
        project_id=project.project_id, cfg=project.manifest(ORIGINAL_MANIFEST_PAGE)
    )
    assert resp.ok and resp.json()["version"] == 1
    assert api.orchestration_get(project.project_id) == project.manifest(ORIGINAL_MANIFEST_PAGE)
    with pytest.raises(ManifestError) as refused:
        api.orchestration_apply(project.project_id, BAD)
    assert len(refused.value.errors) >= 10
    assert "line 5, column 17: unknown visualisation type 'img2htm'" in str(refused.value)
    assert [v["version"] for v in api.manifest_history(project.project_id).json()["versions"]] == [1]


def _cli(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in server.environment().items() if not k.startswith("RAYMON_INIT")}
    env.update(plugin_env())
    return subprocess.run(
        [sys.executable, "-m", "raymon.cli", *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_cli_applies_a_file_and_prints_each_error_as_file_line_column(
    project: ManifestProject, tmp_path: Path
) -> None:
    good, bad = tmp_path / "manifest.yaml", tmp_path / "bad.yaml"
    good.write_text(WITH_SECRETS)
    bad.write_text(BAD)
    applied = _cli(project.server, "manifest", "apply", str(good), "--project", project.project_id)
    assert applied.returncode == 0, applied.stderr
    assert f"applied: project {project.project_id} manifest version 1" in applied.stdout
    refused = _cli(project.server, "manifest", "apply", str(bad), "--project", project.project_id)
    assert refused.returncode == 1
    lines = refused.stderr.splitlines()
    assert f"{bad}:5:17: unknown visualisation type 'img2htm'; known: " in lines[1]
    assert all(re.match(rf"{re.escape(str(bad))}:\d+:\d+: ", line) for line in lines[:-1])
    assert lines[-1] == f"raymon: error: {bad}: {len(lines) - 1} error(s), nothing applied"
    shown = _cli(project.server, "manifest", "show", "--project", project.project_id)
    assert shown.returncode == 0 and "<redacted>" in shown.stdout
    assert all(secret not in shown.stdout for secret in SECRETS)
    history = _cli(project.server, "manifest", "history", "--project", project.project_id)
    assert history.returncode == 0 and history.stdout.startswith("1\t")
