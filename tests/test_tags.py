import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from raymon import Tag, TagError
from raymon.tags import NAME_MAX_LEN, TEXT_VALUE_MAX_LEN, TYPE_MAX_LEN, tags_to_jcr


def test_tag_serialises_to_name_value_type_group():
    assert Tag("client", "bigshot", "label").to_jcr() == {
        "name": "client",
        "value": "bigshot",
        "type": "label",
        "group": None,
    }
    assert Tag("x", 1.5, "metric", group="model@1.0").to_jcr()["group"] == "model@1.0"


def test_tags_accepts_dicts_and_tag_objects_mixed_as_in_the_original_docs():
    tags = [
        {"name": "client", "value": "bigshot_client", "type": "label"},
        Tag(name="sdk_version", value="1.4.2", type="label"),
        Tag(name="prediction_time_ms", value="120", type="metric"),
    ]
    out = tags_to_jcr(tags)
    assert [t["name"] for t in out] == ["client", "sdk_version", "prediction_time_ms"]
    assert all(set(t) == {"name", "value", "type", "group"} for t in out)


@pytest.mark.parametrize(
    "name",
    [
        "",
        " lead",
        "trail ",
        "a" * (NAME_MAX_LEN + 1),
        "semi;colon",
        "new\nline",
        "<script>",
        5,
        None,
        'quote"s',
    ],
)
def test_bad_tag_names_are_refused_with_the_name_in_the_message(name):
    with pytest.raises(TagError, match="name"):
        Tag(name, "v", "label")


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, np.float64("nan"), None, True, [1], {"a": 1}]
)
def test_tag_values_must_be_strings_or_finite_numbers(value):
    with pytest.raises(TagError, match="value"):
        Tag("n", value, "metric")


def test_an_integer_beyond_64_bits_is_refused_by_every_path_and_the_trace_logs_on(tmp_path):
    from raymon import Trace
    from raymon.loggers import RaymonFileLogger
    from raymon.tags import known_plain_tags

    assert tags_to_jcr([{"name": "n", "value": 2**63 - 1}])[0]["value"] == 2**63 - 1  # the edge is fine
    assert tags_to_jcr([{"name": "n", "value": np.uint64(2**63 - 1)}])[0]["value"] == 2**63 - 1
    for big in (2**63, -(2**63) - 1, 2**70):
        with pytest.raises(TagError, match="64-bit"):
            Tag("n", big)
        for _ in range(2):  # the second time the labels are known: the fast paths must refuse too
            with pytest.raises(TagError, match="64-bit"):
                tags_to_jcr([{"name": "n", "value": big, "type": "label", "group": None}])
        assert not known_plain_tags([{"name": "n", "value": big, "type": "label", "group": None}])
    with pytest.raises(TagError, match="64-bit"):
        tags_to_jcr([{"name": "n", "value": np.uint64(2**64 - 1)}])
    logger = RaymonFileLogger(path=str(tmp_path), project_id="p")
    trace = Trace(logger=logger)
    with pytest.raises(TagError, match="64-bit"):
        trace.tag([{"name": "n", "value": 2**64, "type": "label", "group": None}])
    trace.tag([{"name": "n", "value": 2, "type": "label", "group": None}])
    logger.close()
    lines = [line for path in tmp_path.iterdir() for line in path.read_text().splitlines()]
    assert len(lines) == 1 and '"value":2' in lines[0]  # the refused call wrote nothing


def test_too_long_text_value_is_refused():
    with pytest.raises(TagError, match=str(TEXT_VALUE_MAX_LEN)):
        Tag("n", "x" * (TEXT_VALUE_MAX_LEN + 1))


def test_a_text_value_with_nul_is_refused_as_object_and_as_dict_every_time():
    with pytest.raises(TagError, match="NUL"):
        Tag("n", "a\x00b")
    for _ in range(2):  # the second time the name and type are known: the fast path must refuse too
        with pytest.raises(TagError, match="NUL"):
            tags_to_jcr([{"name": "n", "value": "a\x00b", "type": "label"}])
        assert tags_to_jcr([{"name": "n", "value": "ab", "type": "label"}])[0]["value"] == "ab"


def test_numpy_numbers_become_plain_python_numbers():
    assert type(Tag("n", np.int64(3)).value) is int
    assert type(Tag("n", np.float32(0.5)).value) is float


@pytest.mark.parametrize("type_", ["", "x" * (TYPE_MAX_LEN + 1), "tab\there", 3])
def test_bad_tag_types_are_refused(type_):
    with pytest.raises(TagError, match="type"):
        Tag("n", 1, type_)


def test_bad_group_is_refused():
    with pytest.raises(TagError, match="group"):
        Tag("n", 1, "metric", group="bad;group")


def test_dict_with_unknown_fields_or_missing_value_is_refused():
    with pytest.raises(TagError, match="unknown fields"):
        tags_to_jcr([{"name": "a", "value": 1, "type": "x", "colour": "red"}])
    with pytest.raises(TagError, match="value"):
        tags_to_jcr([{"name": "a", "type": "x"}])
    with pytest.raises(TagError, match="a Tag or a dict"):
        tags_to_jcr(["client=bigshot"])


def test_a_bad_label_is_refused_every_time_not_only_the_first():
    for _ in range(3):
        with pytest.raises(TagError):
            tags_to_jcr([{"name": "bad name;", "value": 1, "type": "x"}])


@given(
    name=st.from_regex(r"[A-Za-z0-9_\-.:/@]{1,64}", fullmatch=True),
    value=st.one_of(
        st.text(st.characters(exclude_characters="\x00"), max_size=100),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    type_=st.sampled_from(["label", "metric", "error", "profile-input"]),
)
def test_valid_tags_round_trip_through_their_wire_form(name, value, type_):
    tag = Tag(name, value, type_)
    assert Tag.from_jcr(tag.to_jcr()) == tag


def test_the_list_check_of_the_line_loggers_takes_the_common_shape_fast_and_refuses_the_rest():
    """``known_plain_tags``'s shortcuts (a sum for finiteness, the type and group of the tag before by
    identity) answer as a check of each tag would: true only for the checked form."""
    from raymon.tags import known_plain_tags

    def tag(name: str, value: object, type_: str = "metric", group: str | None = "model@1.0") -> dict:
        return {"name": name, "value": value, "type": type_, "group": group}

    good = [tag(f"f{i}", i * 1.5) for i in range(10)] + [tag("n", 3), tag("s", "text", "label", None)]
    assert tags_to_jcr(good) == good  # the labels are checked and remembered
    assert known_plain_tags(good)
    big = [tag("f1", 1.5e308), tag("f2", 1.5e308)]  # finite values whose sum overflows
    assert math.isinf(1.5e308 + 1.5e308) and known_plain_tags(big)
    for bad in (math.inf, -math.inf, math.nan, True, None, np.float64(1.0), 2**63, "x\x00"):
        for where in (0, 5, 11):
            tags = [dict(t) for t in good]
            tags[where]["value"] = bad
            assert not known_plain_tags(tags), (bad, where)
    assert not known_plain_tags([tag("f1", math.inf), tag("f2", -math.inf)])  # inf - inf is nan
    # A type or group never checked, after tags whose type and group were: refused.
    assert not known_plain_tags([tag("f1", 1.0), tag("f2", 2.0, type_="never checked")])
    assert not known_plain_tags([tag("f1", 1.0), tag("f2", 2.0, group="never@checked")])
    assert not known_plain_tags([tag("f1", 1.0), tag("f2", 2.0, group=["unhashable"])])  # type: ignore[arg-type]
    assert not known_plain_tags([tag("f1", 1.0), {**tag("f2", 2.0), "extra": 1}])
    assert not known_plain_tags([tag("f1", 1.0), {"name": "f2", "value": 2.0, "type": "metric"}])
    assert not known_plain_tags([tag("f1", 1.0), Tag("f2", 2.0, "metric", "model@1.0")])
