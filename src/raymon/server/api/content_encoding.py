"""``BodyDecoder``: a request body's ``Content-Encoding`` undone chunk by chunk, bounded, read to its end.

``gzip`` bodies may hold several members one after another (what ``pigz`` and
``cat a.gz b.gz`` make): every member is read. ``deflate`` is the zlib format
(RFC 9110), one stream. A body is good only when its last stream ends exactly
where the body does: a truncated stream, or bytes after the end that are not
another gzip member, is an ``UndecodableBody`` naming why, never a body cut
short. The decompressed size is bounded while decompressing
(``BodyTooLarge``), so a small bomb never inflates past the limit in memory.
This module does no I/O and knows nothing of HTTP beyond the encoding names.
"""

from __future__ import annotations

import zlib

ENCODINGS = ("identity", "gzip", "x-gzip", "deflate")


class BodyTooLarge(Exception):
    """The decompressed body is over the limit."""


class UndecodableBody(Exception):
    """The body is not a complete stream of its Content-Encoding; the message says why."""


class BodyDecoder:
    """Feed a body's chunks as they arrive, then ``finish()``; each answers decoded bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")
        self.encoding = "gzip" if encoding == "x-gzip" else encoding
        self.limit = limit
        self.size = 0  # decoded bytes so far
        self.members = 0  # complete gzip members (or zlib streams) read
        self._zlib: zlib._Decompress | None = self._new_stream() if encoding != "identity" else None

    def _new_stream(self) -> zlib._Decompress:
        # 32 + MAX_WBITS: a zlib or a gzip header, as before (some clients mix up the two names).
        return zlib.decompressobj(32 + zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> bytes:
        if self._zlib is None:
            return self._count(chunk)
        out: list[bytes] = []
        data = chunk
        while data:
            if self._zlib.eof:  # bytes after a complete stream: another gzip member, or junk
                self._next_member(data)
            try:
                piece = self._zlib.decompress(data, self.limit + 1 - self.size)
            except zlib.error as exc:
                raise UndecodableBody(f"the {self.encoding} body cannot be decompressed: {exc}") from None
            out.append(self._count(piece))
            if self._zlib.unconsumed_tail:  # stopped at the size limit with input left
                raise BodyTooLarge()
            if self._zlib.eof:
                self.members += 1
                data = self._zlib.unused_data
            else:
                data = b""
        return b"".join(out)

    def _next_member(self, data: bytes) -> None:
        assert self._zlib is not None
        if self.encoding != "gzip":
            raise UndecodableBody(f"the deflate body has {len(data)} bytes after the end of its stream")
        if data[:2] != b"\x1f\x8b"[: len(data[:2])]:
            raise UndecodableBody(
                f"the gzip body has {len(data)} bytes after the end of member {self.members} "
                "that are not another gzip member"
            )
        self._zlib = self._new_stream()

    def finish(self) -> bytes:
        """The last decoded bytes; ``UndecodableBody`` unless the body ended exactly at a stream's end."""
        if self._zlib is None:
            return b""
        if not self._zlib.eof:
            which = f"member {self.members + 1}" if self.encoding == "gzip" else "stream"
            raise UndecodableBody(
                f"the {self.encoding} body is truncated: its {which} ends before its end marker "
                f"({self.size} bytes decoded)"
            )
        return self._count(self._zlib.flush())

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.limit:
            raise BodyTooLarge()
        return piece
