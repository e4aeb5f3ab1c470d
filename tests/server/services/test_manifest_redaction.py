"""Redaction of a manifest's secrets and the YAML reading under it, without a server (pure functions).

Whatever the YAML style of a secret (plain, quoted, flow, block scalar, anchored and aliased,
repeated in a comment), the shown text holds none of it and is still valid YAML; a document
that expands beyond the node budget or refers to itself is refused, not expanded.
"""

from __future__ import annotations

import pytest
import yaml

from raymon.server.plugins import Plugins
from raymon.server.services.manifest_checks import ManifestRefused, check_manifest
from raymon.server.services.manifest_yaml import MAX_NODES, YamlProblem, load
from raymon.server.services.manifests import redact
from raymon.server.settings import Settings

SLACK = "https://hooks.slack.com/services/AAAA/BBBB/secretpart"
SECRET = "whsec_abcdefghijklmnop"
STYLES = f"""\
actions:
  alert:
    - name: plain
      type: slack
      webhook: &hook {SLACK}
    - name: aliased
      type: webhook
      url: *hook
      secret: |
        {SECRET}
  map:
    - {{name: flow, mapper_type: webhook, url: '{SLACK}?q=1', secret: "{SECRET}", inputs: {{d: r}}}}
# the old one was {SLACK}
"""


def test_every_style_of_secret_is_redacted_and_the_text_stays_valid_yaml() -> None:
    shown = redact(STYLES)
    assert SLACK not in shown and SECRET not in shown and "secretpart" not in shown
    document = yaml.safe_load(shown)
    alerts, mappers = document["actions"]["alert"], document["actions"]["map"]
    assert alerts[0]["webhook"] == alerts[1]["url"] == alerts[1]["secret"] == "<redacted>"
    assert mappers[0]["url"] == mappers[0]["secret"] == "<redacted>"
    assert mappers[0]["inputs"] == {"d": "r"} and "# the old one was <redacted>" in shown


def test_a_redacted_manifest_applied_again_gets_the_stored_secrets_back() -> None:
    plugins = Plugins.load(Settings(), entry_points=[])
    text = "actions:\n  alert: []\nslices: []\n"
    first = check_manifest(text, "p", plugins=plugins, profiles=(), previous=None)
    assert first.source == text
    with pytest.raises(ManifestRefused) as refused:
        check_manifest(
            'actions:\n  alert:\n    - {name: a, type: slack, webhook: "<redacted>"}\n',
            "p",
            plugins=plugins,
            profiles=(),
            previous=first.manifest,
        )
    messages = [e.message for e in refused.value.errors]
    assert any("no alert action named 'a'" in m for m in messages)
    assert not any("http(s) URL" in m for m in messages)  # the placeholder is not judged as a URL


def test_an_alias_bomb_and_a_self_reference_are_refused_not_expanded() -> None:
    bomb = "a: &a [" + ", ".join(["x"] * 10) + "]\n"
    for parent, child in zip("abcdef", "bcdefg", strict=True):
        bomb += f"{child}: &{child} [" + ", ".join([f"*{parent}"] * 10) + "]\n"
    with pytest.raises(YamlProblem, match=f"more than {MAX_NODES}"):
        load(bomb)
    with pytest.raises(YamlProblem):
        load("a: &a [*a, *a]\n")


def test_a_syntax_error_is_placed_on_its_line_and_column() -> None:
    with pytest.raises(YamlProblem) as problem:
        load("slices:\n  - slicestr: a\n   bad: [\n")
    assert problem.value.position.line >= 3 and problem.value.message.startswith("YAML syntax: ")
