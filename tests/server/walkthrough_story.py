"""The original Raymon's walkthrough as traffic: a house-prices model, three clients, one bad app update.

What the engine's end-to-end test replays against a real server (and what a demo can
replay): a profile built from the house-prices data shipped with raymon, a pricing
service whose traces carry the request, the validation tags, the prediction and the
client's metadata, and a labelling service that logs the actual sale price later, in
another logger. From window ``broken_from`` on, client ``zillow``'s app update ``v2``
sends the living area in square metres instead of square feet and drops the lot
frontage: two corrupted features on one slice; the other clients stay healthy.

Trace time is chosen (events carry their ``ts``), so a run of a few seconds covers an
hour of 10-minute windows, as the walkthrough's ``reducer_interval_m: 10``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any

import numpy as np
import pandas as pd

import raymon.types as rt
from raymon import ActualComponent, EvalComponent, InputComponent, ModelProfile, OutputComponent
from raymon.profiling import MeanScore
from raymon.profiling.extractors.structured import AbsoluteRegressionError, ElementExtractor
from raymon.wire import Event, object_event, tags_event

NUMERIC = ["LotArea", "OverallQual", "YearBuilt", "GrLivArea", "LotFrontage", "TotalBsmtSF"]
CLIENTS = ("zillow", "remax", "redfin")
BROKEN_CLIENT = "zillow"
BROKEN_FEATURES = ("grlivarea", "lotfrontage")
PROFILE_NAME, PROFILE_VERSION = "houseprices", "1.0.0"
PROFILE_REF = f"{PROFILE_NAME}@{PROFILE_VERSION}"


def houses() -> pd.DataFrame:
    frames = [
        pd.read_csv(files("raymon") / "demo_data" / name) for name in ("subset-cheap.csv", "subset-exp.csv")
    ]
    return pd.concat(frames, ignore_index=True)


@dataclass
class Model:
    """A least-squares line on the numeric features: small, deterministic, good enough to be wrong."""

    coef: np.ndarray
    means: np.ndarray

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> Model:
        x = frame[NUMERIC].to_numpy(dtype=float)
        means = np.nanmean(x, axis=0)
        x = np.where(np.isnan(x), means, x)
        design = np.column_stack([x, np.ones(len(x))])
        coef, *_ = np.linalg.lstsq(design, frame["SalePrice"].to_numpy(dtype=float), rcond=None)
        return cls(coef, means)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        x = frame[NUMERIC].to_numpy(dtype=float)
        x = np.where(np.isnan(x), self.means, x)
        return np.column_stack([x, np.ones(len(x))]) @ self.coef


def build_profile(frame: pd.DataFrame, model: Model) -> ModelProfile:
    profile = ModelProfile(
        name=PROFILE_NAME,
        version=PROFILE_VERSION,
        components=[InputComponent(name=f, extractor=ElementExtractor(element=f)) for f in NUMERIC]
        + [
            OutputComponent(name="price_pred", extractor=ElementExtractor(element=0)),
            ActualComponent(name="price", extractor=ElementExtractor(element=0)),
            EvalComponent(name="abs_error", extractor=AbsoluteRegressionError()),
        ],
        scores=[MeanScore(name="mae", inputs=["abs_error"], preference="low")],
    )
    predictions = model.predict(frame)
    profile.build(
        input=frame[NUMERIC],
        output=predictions[:, None],
        actual=frame["SalePrice"].to_numpy(dtype=float)[:, None],
        silent=True,
    )
    return profile


MANIFEST = f"""\
project_id: {{project_id}}
actions:
  map:
    - name: profile_eval
      mapper_type: profile_eval
      profile: {PROFILE_REF}
      inputs:
        output: price_pred
        actual: price
  reduce:
    - reducer_type: profile_reducer
      name: {PROFILE_REF}
      reducer_interval_m: 10
slices:
  - space:
      - tag: client
"""


def _at(event: Event, moment: datetime) -> Event:
    event["ts"] = moment.isoformat().replace("+00:00", "Z")
    return event


def service_traffic(
    project_id: str,
    profile: ModelProfile,
    model: Model,
    start: datetime,
    windows: int,
    per_client_window: int,
    broken_from: int,
    seed: int = 0,
) -> Iterator[tuple[str, float, list[Event]]]:
    """The pricing service's events per trace: ``(trace_id, actual price, events)``, oldest first."""
    data = houses()
    rng = np.random.default_rng(seed)
    window = timedelta(minutes=10)
    n = 0
    for w in range(windows):
        for i in range(per_client_window * len(CLIENTS)):
            client = CLIENTS[i % len(CLIENTS)]
            broken = client == BROKEN_CLIENT and w >= broken_from
            row = data.iloc[[int(rng.integers(len(data)))]].reset_index(drop=True)
            request = row[NUMERIC].astype(float)
            if broken:
                request["GrLivArea"] = request["GrLivArea"] / 10.764  # square metres, not feet
                request["LotFrontage"] = np.nan
            moment = start + window * w + window * (i + 0.5) / (per_client_window * len(CLIENTS))
            trace_id = f"house-{n:06d}"
            n += 1
            prediction = float(model.predict(request)[0])
            events = [
                tags_event(
                    project_id,
                    trace_id,
                    [
                        {"name": "client", "value": client, "type": "label", "group": None},
                        {"name": "app", "value": "v2" if broken else "v1", "type": "label", "group": None},
                    ],
                ),
                object_event(project_id, trace_id, "request", rt.DataFrame(request).to_jcr()),
                tags_event(project_id, trace_id, profile.validate_input(request.iloc[0].to_dict())),
                object_event(project_id, trace_id, "price_pred", rt.Native([prediction]).to_jcr()),
                tags_event(project_id, trace_id, profile.validate_output([prediction])),
            ]
            yield trace_id, float(row["SalePrice"].iloc[0]), [_at(e, moment) for e in events]


def labelling_events(
    project_id: str, profile: ModelProfile, trace_id: str, price: float, moment: datetime
) -> list[Event]:
    """The labelling service's events for one trace: the actual and its validation tags."""
    events = [
        object_event(project_id, trace_id, "price", rt.Native([price]).to_jcr()),
        tags_event(project_id, trace_id, profile.validate_actual([price])),
    ]
    return [_at(e, moment) for e in events]


def slice_of(client: str) -> str:
    return f"client=={client}"


def summary(issues: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((i["slice"], i["component"], i["check"]) for i in issues)
