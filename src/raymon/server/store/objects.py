"""The object store: bodies of data objects too large to keep inline in SQL.

A directory under the data dir by default; any S3-compatible store with
``RAYMON_OBJECT_STORE_URL=s3://bucket/prefix`` (``pip install "raymon[s3]"``,
endpoint from ``RAYMON_S3_ENDPOINT_URL``, credentials from the usual AWS
variables). Keys are derived from the object id, so writing the same object
twice writes the same bytes to the same key: re-sends are harmless. A write is
atomic (temporary file + rename locally; a single PUT on S3), so a reader never
sees half an object, and durable before ``put`` returns (the file and its
directory fsynced; S3 acknowledges a PUT once stored), so the SQL commit that
follows never points at a body a power loss could take back. It must never hold metadata: that lives in SQL.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from raymon.server.settings import Settings, SettingsError


class ObjectStore(Protocol):
    """Where large object bodies go; ``put`` is idempotent for a given key and bytes."""

    def put(self, key: str, body: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


def object_key(project_id: str, obj_id: str) -> str:
    """The store key of an object: per project, fanned out by the id's first two characters."""
    return f"{project_id}/{obj_id[:2]}/{obj_id}.json"


class LocalObjectStore:
    """Objects as files under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"object key {key!r} leaves the object store")
        return path

    def put(self, key: str, body: bytes) -> None:
        """Write durably: the body is on disk (fsync) before its name is, and the name before we return.

        The caller commits the SQL row pointing at it afterwards, so after a power loss a row never
        points at a missing body (an orphan body without a row is harmless: a re-send rewrites it).
        """
        path = self._path(key)
        _make_dirs(path.parent, self.root)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(f"object {key!r} is not in the object store at {self.root}") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"


def _make_dirs(directory: Path, root: Path) -> None:
    """``mkdir -p`` whose new directories' entries are on disk too (each parent fsynced)."""
    if directory.is_dir():
        return
    missing = []
    while not directory.is_dir() and directory != root and directory.parent != directory:
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        _fsync_dir(new.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3ObjectStore:
    """Objects in an S3-compatible bucket under ``prefix``."""

    def __init__(
        self, bucket: str, prefix: str = "", endpoint_url: str | None = None, region: str | None = None
    ):
        try:
            import boto3
        except ImportError:
            raise SettingsError(
                'RAYMON_OBJECT_STORE_URL is an s3:// URL but boto3 is not installed: pip install "raymon[s3]"'
            ) from None
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=body, ContentType="application/json"
        )

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            raise KeyError(f"object {key!r} is not in s3://{self.bucket}/{self.prefix}") from None
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def __repr__(self) -> str:
        return f"S3ObjectStore(bucket={self.bucket!r}, prefix={self.prefix!r})"


def open_object_store(settings: Settings) -> ObjectStore:
    """The object store the settings name (a local directory unless ``object_store_url`` says s3://)."""
    url = settings.object_store_url
    if not url:
        return LocalObjectStore(settings.objects_dir)
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise SettingsError(f"RAYMON_OBJECT_STORE_URL needs a bucket: s3://bucket/prefix, got {url!r}")
        return S3ObjectStore(parsed.netloc, parsed.path, settings.s3_endpoint_url, settings.s3_region)
    if parsed.scheme in ("file", ""):
        return LocalObjectStore(parsed.path or url)
    raise SettingsError(f"RAYMON_OBJECT_STORE_URL must be s3://bucket/prefix or a directory, got {url!r}")
