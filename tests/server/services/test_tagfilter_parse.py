"""The tag filter parser: grammar, precedence, values, and errors that name the position."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raymon.server.services.tagfilter import (
    MAX_DEPTH,
    MAX_TERMS,
    And,
    Comparison,
    HasTag,
    Node,
    Not,
    Or,
    TagFilterError,
    evaluate,
    parse,
    tag_names,
    to_text,
)


def test_the_original_docs_example_parses_to_two_text_comparisons() -> None:
    assert parse("client==bigshot && app==v1.0.0") == And(
        (Comparison("client", "==", "bigshot"), Comparison("app", "==", "v1.0.0"))
    )


@pytest.mark.parametrize("op", ["==", "!=", "<", ">", "<=", ">="])
def test_every_operator_parses_with_and_without_spaces(op: str) -> None:
    assert parse(f"latency{op}12") == Comparison("latency", op, 12.0)
    assert parse(f"  latency {op} 12  ") == Comparison("latency", op, 12.0)


def test_and_binds_tighter_than_or() -> None:
    a, b, c = (Comparison(n, "==", "x") for n in "abc")
    assert parse("a==x || b==x && c==x") == Or((a, And((b, c))))
    assert parse("a==x && b==x || c==x") == Or((And((a, b)), c))


def test_parentheses_override_precedence() -> None:
    a, b, c = (Comparison(n, "==", "x") for n in "abc")
    assert parse("(a==x || b==x) && c==x") == And((Or((a, b)), c))


def test_not_binds_tightest_and_a_bare_name_tests_presence() -> None:
    assert parse("!a && b") == And((Not(HasTag("a")), HasTag("b")))
    assert parse("!(a==1)") == Not(Comparison("a", "==", 1.0))


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12.0), ("-0.5", -0.5), ("+3", 3.0), ("1e3", 1000.0), (".5", 0.5), ("7.", 7.0)],
)
def test_unquoted_numbers_compare_numerically(text: str, value: float) -> None:
    assert parse(f"x=={text}") == Comparison("x", "==", value)


@pytest.mark.parametrize("text", ["v1.0.0", "1.2.3", "12abc", "nan", "inf", "1e999", "0x10"])
def test_words_that_are_not_finite_numbers_compare_as_text(text: str) -> None:
    assert parse(f"x=={text}") == Comparison("x", "==", text)


def test_quoted_values_are_text_even_when_they_look_like_numbers() -> None:
    assert parse('x=="12"') == Comparison("x", "==", "12")
    assert parse("x=='12'") == Comparison("x", "==", "12")


def test_quotes_allow_spaces_operators_and_escapes_in_names_and_values() -> None:
    assert parse(r'"model version" == "a \"b\" && c\\d"') == Comparison(
        "model version", "==", 'a "b" && c\\d'
    )
    assert parse("'f(x)=y' > 'it\\'s'") == Comparison("f(x)=y", ">", "it's")


def test_names_keep_the_characters_tags_allow_outside_quotes() -> None:
    assert parse("profile@1.0/score:max#2[0]+x>-1") == Comparison("profile@1.0/score:max#2[0]+x", ">", -1.0)


@pytest.mark.parametrize(
    ("expression", "position", "words"),
    [
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("a==", 4, "expected a value after '=='"),
        ("a = b", 3, "single '='"),
        ("a & b", 3, "'&&'"),
        ("a | b", 3, "'||'"),
        ("(a==1", 6, "to close the '(' at position 1"),
        ("a==1)", 5, "no matching '('"),
        ('x=="abc', 4, "never closed"),
        ("a==1 b==2", 6, "found 'b'"),
        ("&& a", 1, "found '&&'"),
        ("a && || b", 6, "found '||'"),
        ("!", 2, "end of the expression"),
        ("a == == b", 6, "expected a value"),
        ('x=="a\\n"', 6, "unknown escape"),
        ('""==1', 1, "must not be empty"),
    ],
)
def test_bad_expressions_name_the_position_of_the_fault(expression: str, position: int, words: str) -> None:
    with pytest.raises(TagFilterError) as info:
        parse(expression)
    assert info.value.position + 1 == position
    assert f"position {position}" in str(info.value)
    assert words in str(info.value)


def test_too_many_conditions_and_too_deep_nesting_are_refused() -> None:
    with pytest.raises(TagFilterError, match=f"more than {MAX_TERMS}"):
        parse(" || ".join(f"t{i}==1" for i in range(MAX_TERMS + 1)))
    with pytest.raises(TagFilterError, match="deeper than"):
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(TagFilterError, match="deeper than"):
        parse("!" * 1_000 + "a")
    with pytest.raises(TagFilterError, match="10001 characters long"):
        parse("!" * 10_000 + "a")


# -- properties ----------------------------------------------------------------------------------
_names = st.text(alphabet="abcxyz _-.:/@()=&|!<>\"'\\", min_size=1, max_size=8)
_values = st.one_of(
    st.text(alphabet="ab 1.-\"'\\()&|", max_size=8),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)


def _trees() -> st.SearchStrategy[Node]:
    leaves = st.one_of(
        st.builds(Comparison, _names, st.sampled_from(["==", "!=", "<", ">", "<=", ">="]), _values),
        st.builds(HasTag, _names),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(Not, inner),
            st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
            st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        ),
        max_leaves=10,
    )


@settings(max_examples=300)
@given(_trees())
def test_writing_a_tree_as_text_and_parsing_it_gives_the_same_tree(tree: Node) -> None:
    assert parse(to_text(tree)) == tree


@settings(max_examples=500)
@given(st.text(alphabet="ab1 .=!<>&|()\"'\\-", max_size=30))
def test_any_text_either_parses_or_raises_a_tag_filter_error_inside_the_text(text: str) -> None:
    try:
        tree = parse(text)
    except TagFilterError as exc:
        assert 0 <= exc.position <= len(text)
    else:
        assert parse(to_text(tree)) == tree


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from("abc"), st.sampled_from(["x", "y", 1, 2.5]), max_size=3))
def test_precedence_and_negation_evaluate_like_boolean_logic(tags: dict[str, object]) -> None:
    a, b, c = (evaluate(parse(f"{n}==x"), tags) for n in "abc")
    assert evaluate(parse("a==x || b==x && c==x"), tags) == (a or (b and c))
    assert evaluate(parse("!(a==x) && !b==x"), tags) == ((not a) and (not b))
    assert evaluate(parse("a<2 || b>=2"), tags) == (
        isinstance(tags.get("a"), int | float) and tags["a"] < 2  # type: ignore[operator]
    ) or (isinstance(tags.get("b"), int | float) and tags["b"] >= 2)  # type: ignore[operator]


def test_not_equal_needs_the_tag_while_negated_equal_does_not() -> None:
    assert evaluate(parse("client!=bigshot"), {}) is False
    assert evaluate(parse("!(client==bigshot)"), {}) is True
    assert evaluate(parse("client!=bigshot"), {"client": "small"}) is True


def test_numbers_match_numeric_text_but_quoted_text_never_matches_numbers() -> None:
    assert evaluate(parse("x==12"), {"x": "12"}) is True  # the store reads "12" as 12 too
    assert evaluate(parse("x>2"), {"x": "v1.0"}) is False
    assert evaluate(parse('x=="12"'), {"x": 12}) is False
    assert evaluate(parse("x==12"), {"x": 12}) is True


def test_tag_names_lists_every_name_mentioned() -> None:
    assert tag_names(parse("a==1 && (b || !c<2)")) == {"a", "b", "c"}
