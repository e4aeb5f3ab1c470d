"""Large objects in an S3-compatible store: a real server writing to a local moto S3 server over HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import orjson
import pytest
from server_helpers import obj
from sqlalchemy import select

from raymon.server.store.models import DataObject

boto3 = pytest.importorskip("boto3", reason="the s3 extra (boto3) is not installed")
moto_server = pytest.importorskip(
    "moto.server", reason="moto[server] is needed for a local S3-compatible server"
)

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def s3_endpoint(backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if backend != "sqlite":
        pytest.skip("the object store works the same whatever the database: run once")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="raymon-objects")
    yield endpoint
    server.stop()


def test_large_objects_go_to_the_s3_bucket_and_small_ones_stay_inline(
    make_server, backend, s3_endpoint: str
) -> None:  # type: ignore[no-untyped-def]
    if backend != "sqlite":
        pytest.skip("the object store works the same whatever the database: run once")
    server = make_server(
        RAYMON_OBJECT_STORE_URL="s3://raymon-objects/prod",
        RAYMON_S3_ENDPOINT_URL=s3_endpoint,
        **CREDENTIALS,
    )
    pid = server.project_id
    big, small = obj(pid, "t1", "big", "b" * 100_000), obj(pid, "t1", "small", 1)
    with server.client() as client:
        assert client.post(f"/api/v1/projects/{pid}/ingest", json=[big, small]).json()["accepted"] == 2
    database = server.database()
    with database.session() as session:
        rows = {r.ref: r for r in session.scalars(select(DataObject).where(DataObject.project_id == pid))}
    database.dispose()
    assert rows["small"].body is not None and rows["small"].store_key is None
    assert rows["big"].body is None
    stored = (
        boto3.client("s3", endpoint_url=s3_endpoint)
        .get_object(Bucket="raymon-objects", Key=f"prod/{rows['big'].store_key}")["Body"]
        .read()
    )
    assert orjson.loads(stored) == big["data"]
