"""The built-in mappers on real databases: ``profile_eval`` with the house-prices profile, ``webhook`` against a
real HTTP receiver on 127.0.0.1 (signed per Standard Webhooks, retried on 503, an error tag on a bad answer)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mappers_context import jobs_of, plugins_with, run_jobs
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

import raymon.types as rt
from raymon import ActualComponent, EvalComponent, InputComponent, ModelProfile, OutputComponent
from raymon.profiling import MeanScore
from raymon.profiling.extractors.structured import (
    AbsoluteRegressionError,
    ElementExtractor,
    generate_components,
)
from raymon.server.backend import Backend, build_backend
from raymon.server.engine.builtin_mappers import retry_after_s, webhook_message_id
from raymon.server.engine.manifest import Actions, Manifest, MapAction
from raymon.server.engine.mappers import handle_map
from raymon.server.services import auth
from raymon.server.services.ingest import ingest_records
from raymon.server.services.profiles import create_profile
from raymon.server.settings import Settings
from raymon.server.store import mapper_runs
from raymon.server.store.models import Tag, Trace
from raymon.wire import Event, object_event

PID = "p"
HOUSES = Path("/work/shared/data/houseprices/subset-cheap.csv")
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def database_url(backend: str, postgres_databases: Any, tmp_path: Path) -> Iterator[str]:
    if backend == "postgresql":
        url = postgres_databases.create()
        yield url
        postgres_databases.drop(url)
    else:
        yield f"sqlite:///{tmp_path / 'b.sqlite3'}"


class Current:
    def __init__(self) -> None:
        self.manifest: Manifest | None = None

    def __call__(self, backend: Backend, project_id: str) -> Manifest | None:
        return self.manifest


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[tuple[Backend, Current]]:
    backend = build_backend(Settings(data_dir=tmp_path, database_url=database_url), plugins=plugins_with())
    backend.database.migrate()
    with backend.writing() as session:
        auth.create_project(session, PID, PID)
    current = Current()
    backend.current_manifest = current
    yield backend, current
    backend.close()


def tags_of(backend: Backend, trace_id: str) -> dict[str, tuple[Any, ...]]:
    with backend.reading() as session:
        rows = session.execute(
            select(Tag.name, Tag.type, Tag.grp, Tag.value_num, Tag.value_text)
            .join(Trace, Trace.id == Tag.trace_pk)
            .where(Trace.project_id == PID, Trace.trace_id == trace_id)
        ).all()
    return {r.name: (r.type, r.grp, r.value_num, r.value_text) for r in rows}


def obj(trace: str, ref: str, data: rt.RaymonDataType) -> Event:
    return object_event(PID, trace, ref, data.to_jcr())


# --- profile_eval ------------------------------------------------------------------------------


def houses_profile() -> tuple[ModelProfile, pd.DataFrame]:
    df = pd.read_csv(HOUSES)
    features = ["LotArea", "OverallQual", "GrLivArea"]
    profile = ModelProfile(
        name="houses",
        version="1.0.0",
        components=[
            *generate_components(df[features].dtypes, complass=InputComponent),
            OutputComponent(name="prediction", extractor=ElementExtractor(element=0)),
            ActualComponent(name="actual", extractor=ElementExtractor(element=0)),
            EvalComponent(name="abs_error", extractor=AbsoluteRegressionError()),
        ],
        scores=[MeanScore(name="MAE", inputs=["abs_error"], preference="low")],
    )
    predictions = (df["GrLivArea"].to_numpy(dtype=float) * 110.0 + 10_000.0)[:, None]
    profile.build(
        input=df[features], output=predictions, actual=df["SalePrice"].to_numpy()[:, None], silent=True
    )
    return profile, df


def test_profile_eval_tags_a_prediction_with_its_late_actual_once_in_the_profiles_group(
    engine: tuple[Backend, Current],
) -> None:
    backend, current = engine
    profile, df = houses_profile()
    create_profile(backend, PID, profile.to_jcr())
    current.manifest = Manifest(
        project_id=PID,
        actions=Actions(
            map=[
                MapAction(
                    name="profile_eval",
                    mapper_type="profile_eval",
                    profile="houses@1.0.0",
                    inputs={"output": "model_prediction", "actual": "actual"},
                )
            ]
        ),
    )
    houses = df.head(5)
    predictions = {
        f"h{i}": float(row.GrLivArea) * 110.0 + 10_000.0 for i, row in enumerate(houses.itertuples())
    }
    # the service logs each prediction at request time...
    ingest_records(
        backend, PID, [obj(t, "model_prediction", rt.Numpy(np.array([p]))) for t, p in predictions.items()]
    )
    run_jobs(backend, handle_map)
    assert all("abs_error" not in tags_of(backend, t) for t in predictions)
    # ...a labelling service logs the actuals days later, one at a time
    for (trace_id, _), price in zip(predictions.items(), houses["SalePrice"], strict=True):
        ingest_records(backend, PID, [obj(trace_id, "actual", rt.Numpy(np.array([float(price)])))])
    run_jobs(backend, handle_map)
    for (trace_id, predicted), price in zip(predictions.items(), houses["SalePrice"], strict=True):
        type_, group, value, _ = tags_of(backend, trace_id)["abs_error"]
        assert (type_, group) == ("profile-score", "houses@1.0.0") and value == pytest.approx(
            abs(predicted - price)
        )
        with backend.reading() as session:
            [run] = mapper_runs.runs_of_trace(session, PID, trace_id)
        assert (run.status, run.n_tags) == ("done", 1)
    # a re-sent actual (a new event: the labeller's retry) runs nothing again
    ingest_records(backend, PID, [obj("h0", "actual", rt.Numpy(np.array([1.0])))])
    run_jobs(backend, handle_map)
    assert tags_of(backend, "h0")["abs_error"][2] == pytest.approx(
        abs(predictions["h0"] - houses["SalePrice"].iloc[0])
    )


def test_profile_eval_naming_a_profile_never_stored_leaves_an_error_tag(
    engine: tuple[Backend, Current],
) -> None:
    backend, current = engine
    current.manifest = Manifest(
        project_id=PID,
        actions=Actions(
            map=[
                MapAction(
                    name="pe",
                    mapper_type="profile_eval",
                    profile="nope@1.0.0",
                    inputs={"output": "o", "actual": "a"},
                )
            ]
        ),
    )
    ingest_records(
        backend, PID, [obj("t", "o", rt.Numpy(np.array([1.0]))), obj("t", "a", rt.Numpy(np.array([2.0])))]
    )
    outcomes = run_jobs(backend, handle_map)
    assert outcomes.retried == []
    assert tags_of(backend, "t")["pe_error"] == (
        "error",
        "nope@1.0.0",
        None,
        "profile nope@1.0.0 is not stored in project 'p'",
    )


# --- webhook: a real receiver on 127.0.0.1 ----------------------------------------------------------


class Receiver:
    """An HTTP receiver in a thread: records each request, answers what ``script`` says (then the last entry)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.script: list[tuple[int, bytes, dict[str, str]]] = [(200, b"[]", {})]
        self.delay_s = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, answer, headers = (
                    receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                )
                time.sleep(receiver.delay_s)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the mapper gave up waiting (the timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def hook_manifest(url: str, secret: str | None = SECRET, **kwargs: Any) -> Manifest:
    action = MapAction(
        name="scorer",
        mapper_type="webhook",
        url=url,
        secret=secret,
        inputs={"data": "request_data", "pred": "prediction"},
        **kwargs,
    )
    return Manifest(project_id=PID, actions=Actions(map=[action]))


TAGS_ANSWER = json.dumps(
    [
        {"name": "lambda_tag", "value": 1.4, "type": "label", "group": "dummy"},
        {"name": "lambda_tag_2", "value": "text", "type": "label", "group": "dummy"},
    ]
).encode()


def log_inputs(backend: Backend, trace_id: str = "t1") -> None:
    """The two inputs, the first one's job run before the second arrives (it finds an input missing)."""
    ingest_records(backend, PID, [obj(trace_id, "request_data", rt.Native({"rooms": 3}))])
    assert len(run_jobs(backend, handle_map).done) == 1
    ingest_records(backend, PID, [obj(trace_id, "prediction", rt.Numpy(np.array([1.5, 2.5])))])


def test_the_webhook_gets_the_inputs_as_jcr_signed_and_its_tags_are_stored_in_the_mappers_group(
    engine: tuple[Backend, Current], receiver: Receiver
) -> None:
    backend, current = engine
    current.manifest = hook_manifest(receiver.url)
    receiver.script = [(200, TAGS_ANSWER, {})]
    log_inputs(backend)
    run_jobs(backend, handle_map)
    [(headers, body)] = receiver.requests
    payload = Webhook(SECRET).verify(body, headers)  # raises unless the signature verifies
    assert payload["trace_id"] == "t1" and payload["project_id"] == PID and payload["mapper"] == "scorer"
    assert rt.load_jcr(payload["inputs"]["data"]).data == {"rooms": 3}
    assert rt.load_jcr(payload["inputs"]["pred"]).data.tolist() == [1.5, 2.5]
    assert headers["webhook-id"] == webhook_message_id(PID, "scorer", "t1")
    tags = tags_of(backend, "t1")
    assert tags["lambda_tag"] == ("label", "scorer", 1.4, None)
    assert tags["lambda_tag_2"] == ("label", "scorer", None, "text")
    with pytest.raises(Exception, match="No matching signature found"):  # a tampered body does not verify
        Webhook(SECRET).verify(body.replace(b"rooms", b"rooms!"), headers)


def test_a_webhook_answering_503_once_is_retried_with_the_same_webhook_id(
    engine: tuple[Backend, Current], receiver: Receiver
) -> None:
    backend, current = engine
    current.manifest = hook_manifest(receiver.url)
    receiver.script = [(503, b"busy", {}), (429, b"slow down", {"Retry-After": "7"}), (200, TAGS_ANSWER, {})]
    log_inputs(backend)
    outcomes = run_jobs(backend, handle_map)
    assert [reason for _, reason in outcomes.retried] == [
        "the webhook answered HTTP 503",
        "the webhook answered HTTP 429",
    ]
    assert outcomes.retry_after == [None, 7.0]
    assert len(receiver.requests) == 3
    assert {h["webhook-id"] for h, _ in receiver.requests} == {webhook_message_id(PID, "scorer", "t1")}
    for headers, body in receiver.requests:
        Webhook(SECRET).verify(body, headers)
    assert tags_of(backend, "t1")["lambda_tag"][2] == 1.4


@pytest.mark.parametrize(
    ("status", "answer", "error"),
    [
        (
            200,
            b"not json",
            "the webhook answered HTTP 200 with a body that is not JSON (expected a list of tags)",
        ),
        (200, b'{"score": 1}', "the webhook answered a JSON dict, not a list of tags"),
        (200, b'[{"value": 1}]', "mapper 'scorer' answered a tag that is not valid"),
        (404, b"", "the webhook answered HTTP 404"),
    ],
)
def test_a_webhook_answering_something_else_than_tags_leaves_an_error_tag_at_once(
    engine: tuple[Backend, Current], receiver: Receiver, status: int, answer: bytes, error: str
) -> None:
    backend, current = engine
    current.manifest = hook_manifest(receiver.url)
    receiver.script = [(status, answer, {})]
    log_inputs(backend)
    outcomes = run_jobs(backend, handle_map)
    assert outcomes.retried == [] and len(receiver.requests) == 1
    type_, group, _, text = tags_of(backend, "t1")["scorer_error"]
    assert (type_, group) == ("error", "scorer") and text.startswith(error)
    assert receiver.url not in text and SECRET not in text


def test_an_unreachable_or_slow_webhook_is_retried_then_recorded_without_its_url(
    engine: tuple[Backend, Current], receiver: Receiver
) -> None:
    backend, current = engine
    receiver.delay_s = 1.0
    current.manifest = hook_manifest(receiver.url, timeout_s=0.2, max_attempts=2)
    log_inputs(backend)
    outcomes = run_jobs(backend, handle_map)
    assert [r for _, r in outcomes.retried] == ["the webhook did not answer within timeout_s=0.2"]
    text = tags_of(backend, "t1")["scorer_error"][3]
    assert text == "failed after 2 attempts: the webhook did not answer within timeout_s=0.2"
    current.manifest = hook_manifest("http://127.0.0.1:9/nothing-listens", max_attempts=1)
    log_inputs(backend, "t2")
    run_jobs(backend, handle_map)
    text = tags_of(backend, "t2")["scorer_error"][3]
    assert text == "failed after 1 attempts: the webhook could not be reached (ConnectError)"
    assert len(jobs_of(backend)) == 4


def test_an_unsigned_webhook_sends_no_signature(engine: tuple[Backend, Current], receiver: Receiver) -> None:
    backend, current = engine
    current.manifest = hook_manifest(receiver.url, secret=None)
    log_inputs(backend)
    run_jobs(backend, handle_map)
    [(headers, _)] = receiver.requests
    assert "webhook-signature" not in headers and headers["webhook-id"].startswith("map_")


def test_retry_after_reads_seconds_and_http_dates_and_caps_them() -> None:
    assert retry_after_s("12") == 12.0 and retry_after_s(None) is None and retry_after_s("soon") is None
    assert retry_after_s("999999") == 3600.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
