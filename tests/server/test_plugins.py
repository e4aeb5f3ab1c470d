"""Plugins: Raymon's own and a user's package register through the same hooks; the server loads only those.

A real plugin package (tests/server/plugin_package) is pip-installed into this
environment and read back in a fresh process, as the server would at start-up.
Documents naming any other class are refused and nothing is imported: a module
whose import writes a marker file (tests/server/untrusted_modules) proves it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from raymon import registry
from raymon.exceptions import DataTypeError
from raymon.profiling import ProfileError
from raymon.server.plugins import PluginError, Plugins
from raymon.server.settings import Settings

HERE = Path(__file__).parent
PLUGIN_PACKAGE = HERE / "plugin_package"
UNTRUSTED = HERE / "untrusted_modules"
PINNED = HERE.parent / "profiling" / "data" / "pinned@1.0.0.json"


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``raymon-example-plugin`` installed (a copy: the build leaves nothing in tests/), uninstalled after."""
    source = tmp_path_factory.mktemp("plugin") / "plugin_package"
    shutil.copytree(PLUGIN_PACKAGE, source)
    done = _pip("install", "--no-deps", "--no-build-isolation", "--no-index", str(source))
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        yield "raymon-example-plugin"
    finally:
        gone = _pip("uninstall", "-y", "raymon-example-plugin")
        assert gone.returncode == 0, gone.stdout + gone.stderr


def _in_fresh_process(code: str, **env: str) -> Any:
    """Run ``code`` in a new interpreter (entry points come from installed metadata) and answer its JSON."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_installed_plugin_package_registers_its_visualisation_mapper_and_extractor(
    installed_plugin: str,
) -> None:
    seen = _in_fresh_process(
        """
        import json
        import raymon.types as rt
        from raymon.server.plugins import Plugins
        from raymon.server.settings import Settings

        plugins = Plugins.load(Settings.from_env())
        text = rt.Native("<b>three</b> small words")
        import pandas as pd
        from raymon import InputComponent, ModelProfile
        from raymon_example_plugin import WordCount

        profile = ModelProfile("texts", "1", components=[InputComponent("words", WordCount())])
        profile.build(input=pd.DataFrame({"text": ["a b", "c d e"]}), silent=True)
        profile = json.loads(json.dumps(profile.to_jcr()))
        loaded = plugins.load_profile(profile)
        print(json.dumps({
            "plugins": [[p.name, p.distribution, p.builtin] for p in plugins.loaded],
            "visualisations": plugins.names("visualisation"),
            "mappers": plugins.names("mapper"),
            "extractors": plugins.names("extractor"),
            "html": plugins.visualisation("text_html").function({"data": text}, {}),
            "tags": [t.to_jcr() for t in plugins.mapper("word_count").function({"data": text}, {})],
            "validated": loaded.validate_input({"text": "a b c"}, tag_format="simple"),
        }))
        """
    )
    assert seen["plugins"] == [["raymon", None, True], ["example", installed_plugin, False]]
    assert seen["visualisations"] == [
        "dataframe_table",
        "img2html",
        "native2html",
        "numpy2html",
        "pandas2html",
        "side_by_side",
        "text_html",
    ]  # built in + the plugin's
    assert seen["mappers"] == ["profile_eval", "webhook", "word_count"]  # the built-in ones and the plugin's
    assert "raymon_example_plugin.WordCount" in seen["extractors"]
    assert seen["html"] == "<pre>&lt;b&gt;three&lt;/b&gt; small words</pre>"
    assert seen["tags"] == [{"name": "word_count", "value": 3, "type": "metric", "group": None}]
    assert seen["validated"] == {"words": 3}


def test_the_allow_list_names_installed_distributions_and_refuses_unknown_names(
    installed_plugin: str,
) -> None:
    code = """
        import json
        from raymon.server.plugins import Plugins, PluginError
        from raymon.server.settings import Settings
        try:
            print(json.dumps([p.name for p in Plugins.load(Settings.from_env()).loaded]))
        except PluginError as exc:
            print(json.dumps(str(exc)))
        """
    assert _in_fresh_process(code, RAYMON_PLUGINS="raymon_example_plugin") == ["raymon", "example"]
    assert _in_fresh_process(code, RAYMON_PLUGINS="example") == ["raymon", "example"]
    assert _in_fresh_process(code, RAYMON_PLUGINS="raymon") == ["raymon"]
    refused = _in_fresh_process(code, RAYMON_PLUGINS="example, not-installed")
    assert "RAYMON_PLUGINS names ['not-installed']" in refused and "raymon-example-plugin" in refused


# --- plugins given as entry points of modules written by the test ---------------------------------


def _plugin_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **sources: str) -> list[EntryPoint]:
    """One importable module per source, each an entry point of the ``raymon`` group named like it."""
    for name, source in sources.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return [EntryPoint(name, name, "raymon") for name in sources]


MAPPER_PLUGIN = """
    from raymon.server.plugins import Mapper, hookimpl

    @hookimpl
    def register_mappers():
        return [Mapper("my_eval", lambda inputs, params: [], "{who}'s my_eval")]
    """


def test_two_plugins_registering_the_same_mapper_name_stop_startup_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eps = _plugin_modules(
        tmp_path,
        monkeypatch,
        plug_alpha=MAPPER_PLUGIN.format(who="alpha"),
        plug_beta=MAPPER_PLUGIN.format(who="beta"),
    )
    with pytest.raises(PluginError) as refused:
        Plugins.load(Settings(), entry_points=eps)
    message = str(refused.value)
    assert "mapper 'my_eval'" in message
    assert "'plug_alpha'" in message and "'plug_beta'" in message
    only_beta = Plugins.load(Settings(plugins="plug_beta"), entry_points=eps)
    assert only_beta.mapper("my_eval").description == "beta's my_eval"


def test_a_plugin_registering_a_builtin_class_again_is_refused_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eps = _plugin_modules(
        tmp_path,
        monkeypatch,
        plug_numpy="""
            import raymon.types as rt
            from raymon.server.plugins import hookimpl

            @hookimpl
            def register_data_types():
                return [rt.Numpy]
            """,
    )
    with pytest.raises(
        PluginError, match=r"data type 'raymon.types.Numpy': 'raymon' \(built in\) and 'plug_numpy'"
    ):
        Plugins.load(Settings(), entry_points=eps)


def test_the_allow_list_loads_only_the_named_plugins_and_each_instance_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eps = _plugin_modules(
        tmp_path,
        monkeypatch,
        plug_views="""
            from raymon.server.plugins import Visualisation, hookimpl

            @hookimpl
            def register_visualisations():
                return [Visualisation("table_view", lambda inputs, params: "<table></table>")]
            """,
        plug_alerts="""
            from raymon.server.plugins import AlertChannel, hookimpl

            @hookimpl
            def register_alert_channels():
                return [AlertChannel("pager", lambda event, settings: None, "Pages someone")]
            """,
    )
    everything = Plugins.load(Settings(), entry_points=eps)
    views_only = Plugins.load(Settings.from_env({"RAYMON_PLUGINS": "plug_views"}), entry_points=eps)
    assert [p.name for p in everything.loaded] == ["raymon", "plug_alerts", "plug_views"]
    assert everything.names("alert_channel") == ["pager", "slack", "webhook"]  # slack, webhook: built in
    assert everything.names("visualisation") == [
        "dataframe_table",
        "img2html",
        "native2html",
        "numpy2html",
        "pandas2html",
        "table_view",
    ]
    assert [p.name for p in views_only.loaded] == ["raymon", "plug_views"]
    assert views_only.names("alert_channel") == ["slack", "webhook"]
    assert views_only.names("visualisation") == [
        "dataframe_table",
        "img2html",
        "native2html",
        "numpy2html",
        "pandas2html",
        "table_view",
    ]
    with pytest.raises(
        LookupError, match=r"unknown alert channel 'pager': registered are \[.slack., .webhook.\]"
    ):
        views_only.alert_channel("pager")
    with pytest.raises(PluginError, match=r"RAYMON_PLUGINS names \['plug-other'\]"):
        Plugins.load(Settings(plugins="plug_views,plug_other"), entry_points=eps)


def test_a_plugin_failing_to_import_misspelling_a_hook_or_answering_the_wrong_thing_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eps = _plugin_modules(
        tmp_path,
        monkeypatch,
        plug_typo="""
            from raymon.server.plugins import hookimpl

            @hookimpl
            def register_visualization():
                return []
            """,
        plug_wrong="""
            from raymon.server.plugins import hookimpl

            @hookimpl
            def register_extractors():
                return [dict]
            """,
        plug_broken="""
            import no_such_dependency_of_this_plugin
            """,
    )
    with pytest.raises(PluginError, match="'plug_broken'.*failed to load.*no_such_dependency_of_this_plugin"):
        Plugins.load(Settings(plugins="plug_broken"), entry_points=eps)
    with pytest.raises(PluginError, match="'plug_typo'.*hook that does not exist.*register_visualization"):
        Plugins.load(Settings(plugins="plug_typo"), entry_points=eps)
    with pytest.raises(PluginError, match=r"'plug_wrong'.*register_extractors\(\) must answer subclasses"):
        Plugins.load(Settings(plugins="plug_wrong"), entry_points=eps)


def test_raymons_own_plugin_registers_every_public_builtin_class() -> None:
    import raymon.profiling.extractors.structured  # noqa: F401
    import raymon.profiling.extractors.vision  # noqa: F401
    import raymon.types  # noqa: F401

    plugins = Plugins.load(Settings(), entry_points=[])
    bases = {"raymon.profiling.extractors.base.Extractor", "raymon.profiling.extractors.base.EvalExtractor"}
    for kind in registry.KINDS:
        public = {
            name
            for name in registry.defined.names(kind)
            if name.startswith("raymon.") and not name.rsplit(".", 1)[1].startswith("_") and name not in bases
        }
        assert set(plugins.names(kind)) == public, kind


# --- the server never imports a module named in data ----------------------------------------------


@pytest.fixture()
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file ``raymon_marker_module`` writes when imported; its directory is importable."""
    path = tmp_path / "imported.marker"
    monkeypatch.setenv("RAYMON_TEST_IMPORT_MARKER", str(path))
    monkeypatch.syspath_prepend(str(UNTRUSTED))
    assert "raymon_marker_module" not in sys.modules
    return path


def _pinned_with(**changes: str) -> dict[str, Any]:
    document = json.loads(PINNED.read_text())
    if "extractor" in changes:
        document["components"][0]["extractor"]["class"] = changes["extractor"]
    if "score" in changes:
        document["scores"][0]["class"] = changes["score"]
    return document


def test_a_document_naming_an_unregistered_class_is_refused_and_its_module_never_imported(
    marker: Path,
) -> None:
    plugins = Plugins.load(Settings(), entry_points=[])
    with pytest.raises(
        DataTypeError, match="unknown data type class 'raymon_marker_module.Wrapper': it is not registered"
    ):
        plugins.load_object({"type": "raymon_marker_module.Wrapper", "params": {"data": 1}})
    with pytest.raises(ProfileError, match="unknown extractor class 'raymon_marker_module.Counter'.*plugin"):
        plugins.load_profile(_pinned_with(extractor="raymon_marker_module.Counter"))
    with pytest.raises(ProfileError, match="unknown score class 'raymon_marker_module.Mean'.*plugin"):
        plugins.load_profile(_pinned_with(score="raymon_marker_module.Mean"))
    with pytest.raises(registry.UnknownClassError, match="'os.system'"):
        plugins.load_object({"type": "os.system", "params": f"touch {marker}"})
    assert not marker.exists()
    assert "raymon_marker_module" not in sys.modules
    assert plugins.load_profile(_pinned_with()).name == "pinned"  # the registered classes do load


def test_the_same_documents_do_import_the_module_in_a_clients_process(marker: Path) -> None:
    """What the server refuses above is what a user's own process does: the marker proves the test can fail."""
    loaded = _in_fresh_process(
        f"""
        import json, sys
        sys.path.insert(0, {str(UNTRUSTED)!r})
        import raymon.types as rt
        print(json.dumps(type(rt.load_jcr({{"type": "raymon_marker_module.Wrapper", "params": {{"data": 1}}}})).__name__))
        """,
        RAYMON_TEST_IMPORT_MARKER=str(marker),
    )
    assert loaded == "Wrapper" and marker.read_text() == "imported\n"
