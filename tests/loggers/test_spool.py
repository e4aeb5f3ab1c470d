"""The spool's reading, adoption and dead-letter helpers, on real files."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from raymon.loggers.spool import (
    DEAD_LETTER_FILE,
    adopt_orphans,
    append_dead_letters,
    count_lines_from,
    create_owner_dir,
    read_lines,
)


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.binary(min_size=0, max_size=3000).map(lambda b: b.replace(b"\n", b"x")), max_size=60),
    tail=st.binary(max_size=50).map(lambda b: b.replace(b"\n", b"")),
    max_lines=st.integers(1, 20),
    max_bytes=st.integers(1024, 8192),
)
def test_reading_in_batches_gives_back_every_complete_line_once_and_leaves_the_unfinished_one(
    tmp_path_factory, lines: list[bytes], tail: bytes, max_lines: int, max_bytes: int
) -> None:
    path = tmp_path_factory.mktemp("read") / "spool-x-000000.ndjson"
    path.write_bytes(b"".join(line + b"\n" for line in lines) + tail)
    offset, got = 0, []
    while True:
        batch, end, size = read_lines(path, offset, max_lines, max_bytes)
        assert size == path.stat().st_size
        if end == offset:
            break
        assert len(batch) <= max_lines
        if len(batch) > 1:  # a batch passes max_bytes by at most its last line
            assert sum(len(x) + 1 for x in batch[:-1]) < max_bytes
        got += batch
        offset = end
    assert got == [line for line in lines if line]
    assert offset == sum(len(line) + 1 for line in lines)
    assert count_lines_from(path, offset) == (1 if tail else 0)


def test_a_live_owner_dir_is_never_adopted_and_a_released_one_is(tmp_path: Path) -> None:
    live = create_owner_dir(tmp_path)
    (live.path / "spool-a-000000.ndjson").write_bytes(b"{}\n")
    assert list(adopt_orphans(tmp_path, held=set())) == []
    live.release()
    adopted = list(adopt_orphans(tmp_path, held=set()))
    assert [o.path for o in adopted] == [live.path]
    assert list(adopt_orphans(tmp_path, held=set())) == []  # now ours: nobody else takes it
    adopted[0].release()


def test_a_directory_abandoned_while_starting_is_cleaned_up(tmp_path: Path) -> None:
    (tmp_path / ".new-host-1-x").mkdir()
    (tmp_path / ".new-host-1-x" / "owner.lock").write_bytes(b"")
    assert list(adopt_orphans(tmp_path, held=set())) == []
    assert not (tmp_path / ".new-host-1-x").exists()


def test_the_ack_survives_a_new_owner_object(tmp_path: Path) -> None:
    owner = create_owner_dir(tmp_path)
    segment = owner.path / "spool-h-1-s-000003.ndjson"
    segment.write_bytes(b"{}\n{}\n")
    owner.write_ack(segment, 3)
    owner.release()
    again = next(adopt_orphans(tmp_path, held=set()))
    assert again.ack == (segment.name, 3)
    assert again.start_of(segment) == 3
    assert again.is_acknowledged(owner.path / "spool-h-1-s-000002.ndjson")
    assert not again.is_acknowledged(owner.path / "spool-h-1-s-000010.ndjson")  # numeric, not text order
    again.release()


def test_dead_letters_keep_the_event_or_the_unreadable_line_with_the_reason(tmp_path: Path) -> None:
    append_dead_letters(tmp_path, [(b'{"event_id": "e1"}', "bad ref", 422), (b"{broken", "not JSON", 400)])
    letters = [orjson.loads(x) for x in (tmp_path / DEAD_LETTER_FILE).read_bytes().splitlines()]
    assert letters[0]["event"] == {"event_id": "e1"} and letters[0]["error"] == "bad ref"
    assert letters[1]["line"] == "{broken" and letters[1]["status"] == 400
    assert os.stat(tmp_path / DEAD_LETTER_FILE).st_size > 0
