"""The hot-path helpers of the wire format give exactly what the slow standard-library calls give."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given
from hypothesis import strategies as st

from raymon.tags import Tag, known_plain_tags, tag_objects_to_jcr, tags_to_jcr
from raymon.wire import new_event_id, now_rfc3339, rfc3339_from_ns


def test_event_ids_are_canonical_uuid4_text() -> None:
    for _ in range(2000):
        event_id = new_event_id()
        parsed = uuid.UUID(event_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == event_id


def test_event_ids_from_many_threads_never_repeat() -> None:
    ids: list[list[str]] = [[] for _ in range(4)]

    def make(out: list[str]) -> None:
        out.extend(new_event_id() for _ in range(20000))

    threads = [threading.Thread(target=make, args=(out,)) for out in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in ids for i in out]
    assert len(set(every)) == len(every) == 80000


@given(st.integers(min_value=0, max_value=253402300799 * 10**9))  # up to 9999-12-31
def test_timestamps_match_datetime_isoformat(ns: int) -> None:
    expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
    assert rfc3339_from_ns(ns) == expected.isoformat(timespec="microseconds")


def test_now_is_the_current_utc_time() -> None:
    before = datetime.now(UTC)
    now = datetime.fromisoformat(now_rfc3339())
    after = datetime.now(UTC)
    assert before - timedelta(microseconds=1) <= now <= after


labels = st.sampled_from(["score", "model@1.0", "bad name ", "", "x" * 200, "ok-name", "a b"])
values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3) | st.just("y" * 1025),
    st.booleans(),
    st.none(),
)
tag_dicts = st.fixed_dictionaries(
    {"name": labels, "value": values},
    optional={
        "type": st.sampled_from(["label", "metric", "", 3]),
        "group": labels | st.none(),
        "extra": st.just(1),
    },
)


def _outcome(tag: dict[str, object]) -> object:
    try:
        return tags_to_jcr([tag])
    except ValueError as exc:
        return type(exc)


@given(tag_dicts)
def test_the_fast_path_for_known_labels_answers_what_the_full_check_answers(tag: dict[str, object]) -> None:
    first = _outcome(tag)  # may fill the cache of checked labels
    second = _outcome(tag)  # may take the fast path
    assert first == second
    try:
        reference: object = [Tag.from_jcr(tag).to_jcr()]
    except ValueError as exc:
        reference = type(exc)
    assert second == reference
    if isinstance(second, list):
        assert type(second[0]["value"]) is type(reference[0]["value"])  # type: ignore[index]


@given(tag_dicts)
def test_a_list_the_loggers_write_as_it_is_is_what_the_full_check_answers(tag: dict[str, object]) -> None:
    """``known_plain_tags`` lets a line logger dump the caller's list: only when that is the checked form."""
    reference = _outcome(tag)  # fills the cache of checked labels when they are good
    plain = known_plain_tags([tag])
    # Every accepted tag with all four fields is one (the strategy's values are plain or refused).
    assert plain == (isinstance(reference, list) and len(tag) == 4)
    if plain:
        assert reference == [tag] and type(reference[0]["value"]) is type(tag["value"])  # type: ignore[index]
        # The same JSON; its keys in the caller's order (JSON objects give order no meaning, and the
        # server's content hash sorts them).
        sort = orjson.OPT_SORT_KEYS
        assert orjson.dumps(reference, option=sort) == orjson.dumps([tag], option=sort)


@given(st.lists(tag_dicts, min_size=1, max_size=4))
def test_a_list_of_tag_objects_has_the_jcr_of_the_full_check(tags: list[dict[str, object]]) -> None:
    """``tag_objects_to_jcr`` trusts what a ``Tag`` checked when made: the same dicts as ``tags_to_jcr``."""
    try:
        objects = [Tag.from_jcr(tag) for tag in tags]
    except ValueError:
        return  # refused when made: never reaches a logger
    jcr = tag_objects_to_jcr(objects)
    assert jcr == tags_to_jcr(objects) == tags_to_jcr(tags)
    assert orjson.dumps(jcr) == orjson.dumps(tags_to_jcr(tags))  # the same bytes, keys in the same order
    assert [type(t["value"]) for t in jcr] == [type(t["value"]) for t in tags_to_jcr(tags)]


def test_only_a_list_of_tag_objects_themselves_skips_the_check() -> None:
    class Sub(Tag):
        pass

    tag = Tag("score", 1.5, "metric")
    assert tag_objects_to_jcr([tag, tag]) == [tag.to_jcr(), tag.to_jcr()]
    assert tag_objects_to_jcr([tag, {"name": "score", "value": 1.5, "type": "metric", "group": None}]) is None
    assert tag_objects_to_jcr([tag, Sub("score", 1.5, "metric")]) is None
