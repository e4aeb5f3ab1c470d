"""The original Raymon's walkthrough as traffic: a house-prices model, its clients, one bad app update.

What the demo replays live (``demo.replay``) and the engine's end-to-end test replays at once
(tests/server/test_walkthrough.py): a profile built from the house-prices data shipped with
raymon (``raymon/demo_data``), a pricing service whose traces carry the request, the
validation tags, the prediction and the client's metadata (``client``, ``app``), and a
labelling service that logs the actual sale price later, through another logger. Client
``zillow``'s app update ``v2`` zeroes two features (the living area and the lot frontage):
two corrupted features on one slice, while the other clients stay healthy.

The live demo (``LiveStory``) adds what the walkthrough told in words: the profile is built on
part of the cheap houses (``training_houses``) and the healthy clients send the rest
(``holdout_houses``), so they match the profile; one client, ``sothebys``, sends the
expensive houses (subset-exp.csv), on which a model trained on cheap houses is both drifting
and wrong. Its manifest (``DEMO_MANIFEST``) reduces every ``DEMO_INTERVAL_S`` seconds and
slices by client and by client and app.

Pure: no database, no HTTP, no clock; times are given by the caller (``moment``) or counted
in story seconds from the replay's start (``LiveStory.requests``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

import raymon.types as rt
from raymon import ActualComponent, EvalComponent, InputComponent, ModelProfile, OutputComponent
from raymon.profiling import MeanScore
from raymon.profiling.extractors.structured import AbsoluteRegressionError, ElementExtractor
from raymon.wire import Event, object_event, tags_event

if TYPE_CHECKING:
    import pandas as pd

NUMERIC = ["LotArea", "OverallQual", "YearBuilt", "GrLivArea", "LotFrontage", "TotalBsmtSF"]
CLIENTS = ("zillow", "remax", "redfin")
BROKEN_CLIENT = "zillow"
BROKEN_FEATURES = ("grlivarea", "lotfrontage")  # the profile's component names of the zeroed features
EXPENSIVE_CLIENT = "sothebys"
LIVE_CLIENTS = (*CLIENTS, EXPENSIVE_CLIENT)
PROFILE_NAME, PROFILE_VERSION = "houseprices", "1.0.0"
PROFILE_REF = f"{PROFILE_NAME}@{PROFILE_VERSION}"
TRAINING_SHARE = 0.6  # of the cheap houses: the profile's and the model's; the rest is healthy traffic
SPLIT_SEED = 15


def _read(name: str) -> pd.DataFrame:
    import pandas as pd

    with (files("raymon") / "demo_data" / name).open("rb") as fh:
        return pd.read_csv(fh)


def houses() -> pd.DataFrame:
    """Every house of the shipped data: the 992 cheap ones, then the 468 expensive ones."""
    import pandas as pd

    return pd.concat([_read("subset-cheap.csv"), _read("subset-exp.csv")], ignore_index=True)


@cache
def _cheap_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    cheap = _read("subset-cheap.csv")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(cheap))
    cut = round(len(cheap) * TRAINING_SHARE)
    return (
        cheap.iloc[np.sort(order[:cut])].reset_index(drop=True),
        cheap.iloc[np.sort(order[cut:])].reset_index(drop=True),
    )


def training_houses() -> pd.DataFrame:
    """The part of the cheap houses the demo's model and profile are built on (a fixed 60 %)."""
    return _cheap_split()[0].copy()


def holdout_houses() -> pd.DataFrame:
    """The other cheap houses: what the healthy clients send (the same distribution, unseen)."""
    return _cheap_split()[1].copy()


def expensive_houses() -> pd.DataFrame:
    """The expensive houses (subset-exp.csv): what ``EXPENSIVE_CLIENT`` sends."""
    return _read("subset-exp.csv")


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
    """The walkthrough's profile: the numeric inputs, the prediction, the actual, its error and the MAE."""
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

DEMO_INTERVAL_S = 30
DEMO_MIN_COUNT = 20  # values a slice's window needs before a check judges it (the contrast's min_count)
DEMO_MANIFEST = f"""\
# The demo of `raymon server --demo` (the original Raymon's house-prices walkthrough).
# Edit it like any manifest (raymon manifest apply ... --project demo); `raymon demo reset` removes it.
project_id: {{project_id}}
actions:
  visualize:
    - name: show_request
      function: pandas2html
      inputs:
        data: request
    - name: show_prediction
      function: native2html
      inputs:
        data: price_pred
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
      reducer_interval_s: {DEMO_INTERVAL_S}
      thresholds:
        min_count: {DEMO_MIN_COUNT}
slices:
  - space:
      - tag: client
  - space:
      - tag: client
      - tag: app
settings:
  retention_days: 1
"""


def app_v2(request: pd.DataFrame) -> pd.DataFrame:
    """What client ``zillow``'s app update does to a request: the living area and lot frontage come as 0."""
    broken = request.copy()
    broken["GrLivArea"] = 0.0
    broken["LotFrontage"] = 0.0
    return broken


def _at(event: Event, moment: datetime) -> Event:
    event["ts"] = moment.isoformat().replace("+00:00", "Z")
    return event


def pricing_events(
    project_id: str,
    profile: ModelProfile,
    model: Model,
    trace_id: str,
    client: str,
    app: str,
    request: pd.DataFrame,
    moment: datetime,
) -> list[Event]:
    """The pricing service's events for one request (a one-row frame of ``NUMERIC``), at ``moment``."""
    prediction = float(model.predict(request)[0])
    events = [
        tags_event(
            project_id,
            trace_id,
            [
                {"name": "client", "value": client, "type": "label", "group": None},
                {"name": "app", "value": app, "type": "label", "group": None},
            ],
        ),
        object_event(project_id, trace_id, "request", rt.DataFrame(request).to_jcr()),
        tags_event(project_id, trace_id, profile.validate_input(request.iloc[0].to_dict())),
        object_event(project_id, trace_id, "price_pred", rt.Native([prediction]).to_jcr()),
        tags_event(project_id, trace_id, profile.validate_output([prediction])),
    ]
    return [_at(e, moment) for e in events]


def labelling_events(
    project_id: str, profile: ModelProfile, trace_id: str, price: float, moment: datetime
) -> list[Event]:
    """The labelling service's events for one trace: the actual and its validation tags."""
    events = [
        object_event(project_id, trace_id, "price", rt.Native([price]).to_jcr()),
        tags_event(project_id, trace_id, profile.validate_actual([price])),
    ]
    return [_at(e, moment) for e in events]


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
    """The walkthrough at once: ``(trace_id, actual price, events)`` of 10-minute windows, oldest first.

    From window ``broken_from`` on, ``BROKEN_CLIENT`` runs app ``v2``.
    """
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
                request = app_v2(request)
            moment = start + window * w + window * (i + 0.5) / (per_client_window * len(CLIENTS))
            trace_id = f"house-{n:06d}"
            n += 1
            events = pricing_events(
                project_id, profile, model, trace_id, client, "v2" if broken else "v1", request, moment
            )
            yield trace_id, float(row["SalePrice"].iloc[0]), events


def slice_of(client: str, app: str | None = None) -> str:
    """The slicestr of a client's slice (and of one of its app versions)."""
    return f"client=={client}" if app is None else f"client=={client} && app=={app}"


def summary(issues: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((i["slice"], i["component"], i["check"]) for i in issues)


# --- the live story --------------------------------------------------------------------------


class Request(NamedTuple):
    """One pricing request of the live story, ``at`` story seconds after the replay started."""

    at: float
    trace_id: str
    client: str
    app: str
    request: pd.DataFrame  # one row of NUMERIC, as the client's app sends it
    price: float  # the house's actual sale price, which the labelling service logs later


@dataclass(frozen=True)
class LiveStory:
    """The demo's timeline, in story seconds (``RAYMON_DEMO_SPEED`` story seconds per second).

    Every client sends ``per_client_per_s`` requests a second. ``BROKEN_CLIENT`` runs app ``v1``
    until ``update_at``, then ``v2`` (``app_v2``). The labelling service logs each actual
    ``actual_delay_s`` after its prediction. After ``cycle_s`` the story starts again (zillow is
    back on v1 until ``update_at``, so its issues resolve and open again: a living demo).
    """

    per_client_per_s: float = 1.0
    update_at: float = 30.0
    actual_delay_s: float = 30.0
    cycle_s: float = 900.0
    clients: Sequence[str] = LIVE_CLIENTS
    seed: int = 0

    def app_of(self, client: str, at: float) -> str:
        """The app version ``client`` runs ``at`` story seconds in."""
        if client == BROKEN_CLIENT and at % self.cycle_s >= self.update_at:
            return "v2"
        return "v1"

    def requests(self, run: str) -> Iterator[Request]:
        """The requests of every client, ``at`` ascending, forever; trace ids ``{client}-{run}-{n}``."""
        pools = {
            client: (expensive_houses() if client == EXPENSIVE_CLIENT else holdout_houses())
            for client in self.clients
        }
        numeric = {client: pool[NUMERIC].astype(float) for client, pool in pools.items()}
        prices = {client: pool["SalePrice"].to_numpy(dtype=float) for client, pool in pools.items()}
        rng = np.random.default_rng(self.seed)
        step = 1.0 / (self.per_client_per_s * len(self.clients))
        n = 0
        while True:
            client = self.clients[n % len(self.clients)]
            at = n * step
            i = int(rng.integers(len(pools[client])))
            request = numeric[client].iloc[[i]].reset_index(drop=True)
            app = self.app_of(client, at)
            if app == "v2":
                request = app_v2(request)
            yield Request(at, f"{client}-{run}-{n:07d}", client, app, request, float(prices[client][i]))
            n += 1
