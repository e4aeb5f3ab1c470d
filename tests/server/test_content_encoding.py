"""BodyDecoder: every gzip member read, a stream that does not end cleanly refused, the size bounded."""

from __future__ import annotations

import gzip
import zlib

import pytest

from raymon.server.api.content_encoding import BodyDecoder, BodyTooLarge, UndecodableBody


def decode(body: bytes, encoding: str = "gzip", limit: int = 10_000, chunk: int = 7) -> bytes:
    decoder = BodyDecoder(encoding, limit)
    out = [decoder.feed(body[i : i + chunk]) for i in range(0, len(body), chunk)]
    return b"".join(out) + decoder.finish()


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_every_member_is_read_whatever_the_chunking(chunk: int) -> None:
    body = gzip.compress(b"one\n") + gzip.compress(b"") + gzip.compress(b"two\n" * 50)
    assert decode(body, chunk=chunk) == b"one\n" + b"two\n" * 50


def test_deflate_is_the_zlib_format_and_identity_passes_through() -> None:
    assert decode(zlib.compress(b"hello"), "deflate") == b"hello"
    assert decode(b"plain", "identity") == b"plain"


@pytest.mark.parametrize(
    ("body", "encoding", "reason"),
    [
        (gzip.compress(b"x" * 100)[:-1], "gzip", "truncated"),
        (gzip.compress(b"x" * 100)[:15], "gzip", "truncated"),
        (gzip.compress(b"x") + b"\x00", "gzip", "not another gzip member"),
        (gzip.compress(b"x") + b"\x1f\x8b", "gzip", "member 2 ends before"),
        (zlib.compress(b"x") + zlib.compress(b"y"), "deflate", "after the end of its stream"),
        (b"not gzip at all", "gzip", "cannot be decompressed"),
        (b"", "gzip", "truncated"),
    ],
)
def test_a_stream_that_does_not_end_cleanly_is_undecodable_naming_why(
    body: bytes, encoding: str, reason: str
) -> None:
    with pytest.raises(UndecodableBody, match=reason):
        decode(body, encoding)


def test_the_decoded_size_is_bounded_while_decoding() -> None:
    bomb = gzip.compress(bytes(10_000_000))
    decoder = BodyDecoder("gzip", 1000)
    with pytest.raises(BodyTooLarge):
        decoder.feed(bomb)
    assert decoder.size <= 1001
    assert decode(gzip.compress(bytes(1000)), limit=1000) == bytes(1000)
    with pytest.raises(BodyTooLarge):
        decode(b"x" * 1001, "identity", limit=1000)
