"""Fixtures of the profiling tests: the house-prices data and the demo profile built on it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from profiling_houses import FEATURES, build_houses, house_profile

from raymon import ModelProfile


@pytest.fixture(scope="session")
def houses(houseprices_dir: Path) -> pd.DataFrame:
    return pd.read_csv(houseprices_dir / "subset-cheap.csv")


@pytest.fixture(scope="session")
def houses_expensive(houseprices_dir: Path) -> pd.DataFrame:
    return pd.read_csv(houseprices_dir / "subset-exp.csv")


@pytest.fixture(scope="session")
def built_houses(houses: pd.DataFrame) -> ModelProfile:
    """Session-wide and read-only: tests that change a profile build their own."""
    profile = house_profile(houses[FEATURES].dtypes)
    return build_houses(profile, houses)
