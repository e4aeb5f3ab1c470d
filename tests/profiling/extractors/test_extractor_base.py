"""A user's own extractor: subclass Extractor, and it survives save/load (found again by its qualified name)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from raymon import InputComponent, ModelProfile, registry
from raymon.profiling import Extractor, ProfileError
from raymon.profiling.extractors.base import extractor_from_jcr


class WordCount(Extractor):
    """Number of words of a text field; ``min_length`` is a parameter saved with the profile."""

    def __init__(self, field: str, min_length: int = 1) -> None:
        self.field = field
        self.min_length = min_length

    def extract(self, sample: Any) -> Any:
        return len([w for w in str(sample[self.field]).split() if len(w) >= self.min_length])


class LearnsAMean(Extractor):
    """Learns the reference mean at build time and answers the distance to it."""

    def __init__(self) -> None:
        self.mean: float | None = None

    @property
    def is_fitted(self) -> bool:
        return self.mean is not None

    def fit(self, batch: Any) -> None:
        self.mean = float(np.mean(batch["x"]))

    def extract(self, sample: Any) -> Any:
        assert self.mean is not None
        return abs(sample["x"] - self.mean)


class HoldsAnArray(Extractor):
    def __init__(self) -> None:
        self.weights = np.ones(3)

    def extract(self, sample: Any) -> Any:
        return 0.0


def test_custom_extractor_with_default_state_survives_save_and_load(tmp_path: Path) -> None:
    df = pd.DataFrame({"text": ["a bb ccc", "dd", "e ff gg hhh", "x"]})
    profile = ModelProfile(
        "texts", "1", components=[InputComponent("words", WordCount("text", min_length=2))]
    )
    profile.build(input=df, silent=True)
    loaded = ModelProfile.load(profile.save(tmp_path))
    extractor = loaded.components["words"].extractor
    assert isinstance(extractor, WordCount) and (extractor.field, extractor.min_length) == ("text", 2)
    assert loaded.validate_input({"text": "one two three four"}, tag_format="simple") == {
        "words": 4,
        "words-error": "UpperBoundError",
    }


def test_fitted_custom_extractor_keeps_what_it_learnt(tmp_path: Path) -> None:
    profile = ModelProfile("m", "1", components=[InputComponent("dist", LearnsAMean())])
    profile.build(input=pd.DataFrame({"x": [1.0, 2.0, 3.0]}), silent=True)
    loaded = ModelProfile.load(profile.save(tmp_path))
    assert loaded.components["dist"].extractor.mean == 2.0
    assert loaded.validate_input({"x": 2.5}, tag_format="simple") == {"dist": 0.5}


def test_default_state_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ProfileError, match=r"weights'\] is a ndarray.*state\(\)"):
        HoldsAnArray().to_jcr()


def test_unknown_extractor_class_is_named() -> None:
    with pytest.raises(ProfileError, match="unknown extractor class 'nowhere.Missing'"):
        extractor_from_jcr({"class": "nowhere.Missing", "state": {}})
    with pytest.raises(ProfileError, match="must be saved as"):
        extractor_from_jcr({"state": {}})


def test_loading_imports_the_module_of_an_extractor_not_imported_yet(tmp_path: Path) -> None:
    module = tmp_path / "my_company_extractors.py"
    module.write_text(
        textwrap.dedent(
            """
            from raymon.profiling import Extractor

            class Doubler(Extractor):
                def extract(self, sample):
                    return 2 * sample["x"]
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:
        from my_company_extractors import Doubler  # type: ignore[import-not-found]

        profile = ModelProfile("m", "1", components=[InputComponent("twice", Doubler())])
        profile.build(input=pd.DataFrame({"x": [1.0, 2.0]}), silent=True)
        path = profile.save(tmp_path)
        del sys.modules["my_company_extractors"]
        registry.defined.remove("extractor", "my_company_extractors.Doubler")
        loaded = ModelProfile.load(path)
        assert type(loaded.components["twice"].extractor).__name__ == "Doubler"
        assert loaded.validate_input({"x": 1.5}, tag_format="simple") == {"twice": 3.0}
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("my_company_extractors", None)
        registry.defined.remove("extractor", "my_company_extractors.Doubler")
