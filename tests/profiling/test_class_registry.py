"""One registry for data types, extractors and scores, one key: the class's qualified name (module.Class)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

import raymon.types as rt
from raymon import EvalComponent, ModelProfile, registry
from raymon.profiling import F1Score as BuiltinF1Score
from raymon.profiling import ProfileError, Score
from raymon.profiling.extractors.structured import ClassificationErrorType
from raymon.profiling.stats import Stats

PINNED = Path(__file__).parent / "data" / "pinned@1.0.0.json"


class F1Score(Score):
    """A user's own score that happens to share the built-in's short class name."""

    default_preference = "high"

    def compute(self, stats: dict[str, Stats]) -> float | None:
        return 0.5


def _profile(score: Score) -> ModelProfile:
    profile = ModelProfile(
        "clf", "1", components=[EvalComponent("kind", ClassificationErrorType(positive=1))], scores=[score]
    )
    profile.build(output=pd.Series([1, 0, 1, 1]), actual=pd.Series([1, 0, 0, 1]), silent=True)
    return profile


def test_a_users_score_named_f1score_does_not_replace_the_builtin_when_a_profile_loads() -> None:
    builtin = ModelProfile.from_jcr(json.loads(json.dumps(_profile(BuiltinF1Score("f1", ["kind"])).to_jcr())))
    own = ModelProfile.from_jcr(json.loads(json.dumps(_profile(F1Score("f1", ["kind"])).to_jcr())))
    assert type(builtin.scores["f1"]) is BuiltinF1Score and builtin.scores["f1"].result == pytest.approx(0.8)
    assert type(own.scores["f1"]) is F1Score and own.scores["f1"].result == 0.5


def test_scores_are_saved_by_qualified_name_and_old_short_names_mean_the_builtin() -> None:
    saved = _profile(BuiltinF1Score("f1", ["kind"])).to_jcr()
    assert saved["scores"][0]["class"] == "raymon.profiling.scores.F1Score"
    saved["scores"][0]["class"] = "F1Score"  # as files written before the qualified-name rule say
    assert type(ModelProfile.from_jcr(saved).scores["f1"]) is BuiltinF1Score
    assert ModelProfile.load(PINNED).scores["mae"].result is not None  # the pinned file says "MeanScore"


def test_every_kind_is_keyed_by_module_and_class_in_the_one_registry() -> None:
    assert registry.defined.get("score", f"{__name__}.F1Score") is F1Score
    assert registry.defined.get("score", "raymon.profiling.scores.F1Score") is BuiltinF1Score
    assert registry.defined.get("data_type", "raymon.types.Numpy") is rt.Numpy
    assert rt.Numpy.type_name == registry.qualified_name(rt.Numpy) == "raymon.types.Numpy"
    assert ClassificationErrorType.class_name == registry.qualified_name(ClassificationErrorType)
    assert registry.defined.get("data_type", "Numpy") is None  # short names are an old score form only


def test_an_unknown_short_score_name_is_refused_naming_it() -> None:
    with pytest.raises(ProfileError, match="unknown score class 'NoSuchScore'"):
        Score.from_jcr({"class": "NoSuchScore", "name": "x", "inputs": ["kind"], "preference": "high"})


def test_a_table_resolves_only_its_own_classes_and_imports_nothing() -> None:
    table = registry.ClassTable()
    table.add("score", BuiltinF1Score)
    assert table.resolve("score", "F1Score") is BuiltinF1Score
    with pytest.raises(registry.UnknownClassError, match="not registered"):
        table.resolve("score", f"{__name__}.F1Score")
    with pytest.raises(registry.UnknownClassError, match="'json.JSONDecoder'"):
        table.resolve("data_type", "json.JSONDecoder")


def test_the_registry_module_imports_neither_numpy_nor_pandas() -> None:
    source = Path(registry.__file__).read_text()
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= {"__future__", "importlib", "collections", "typing", "raymon"}
    assert "from raymon.exceptions import" in source and source.count("from raymon") == 1
