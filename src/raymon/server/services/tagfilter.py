"""Tag filter expressions: ``client==bigshot && (app==v1.0.0 || latency_ms>120)``.

What users type in the trace list, the export and the API to select traces by
their tags. This module parses an expression into a small typed tree (with
errors that name the position of what is wrong) and holds ``evaluate``, the
reference semantics. The tree's SQL is ``store.tagfilter_sql``'s; this module
never builds or runs SQL and never sees HTTP.

Grammar (``!`` binds tightest, then ``&&``, then ``||``)::

    expr       := and_expr ( "||" and_expr )*
    and_expr   := unary ( "&&" unary )*
    unary      := "!" unary | "(" expr ")" | comparison | name
    comparison := name op value          op := == != < > <= >=
    name       := bare word | quoted string
    value      := number | bare word | quoted string

- A bare word is a run of characters other than white space, quotes and
  ``( ) ! = < > & |``; quote names or values holding those or spaces
  (``"model version"=="v 2"``; ``\\"`` and ``\\\\`` escape inside quotes).
- An unquoted number (``120``, ``-0.5``, ``1e3``) compares numerically with the
  tag's numeric value (a number, or a text value that reads as one: ``"120"``);
  anything else (and any quoted value) compares as text with text values only.
- ``name op value`` is true for a trace that has tag ``name`` with a value that
  satisfies ``op`` (so ``client!=bigshot`` needs a ``client`` tag); a bare
  ``name`` is true when the trace has that tag at all; ``!x`` negates, so
  ``!(client==bigshot)`` also selects traces without a ``client`` tag.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from raymon.exceptions import RaymonError
from raymon.server.store.writes import numeric_reading

MAX_EXPRESSION_LENGTH = 4096
MAX_TERMS = 32
MAX_DEPTH = 32

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_NUMBER_RE = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_SPECIAL = set("()!=<>&|\"'")


class TagFilterError(RaymonError, ValueError):
    """A tag filter expression that cannot be parsed; ``position`` is the 0-based offset of the fault."""

    def __init__(self, message: str, expression: str, position: int) -> None:
        self.expression = expression
        self.position = position
        self.reason = message
        column = position + 1
        snippet = expression if len(expression) <= 120 else expression[max(0, position - 60) : position + 60]
        caret_at = position if len(expression) <= 120 else min(position, 60)
        super().__init__(f"bad tag filter at position {column}: {message}\n  {snippet}\n  {' ' * caret_at}^")


# -- the tree ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Comparison:
    """Trace has tag ``name`` whose value satisfies ``op value`` (numeric when ``value`` is a float)."""

    name: str
    op: str
    value: str | float


@dataclass(frozen=True, slots=True)
class HasTag:
    """Trace has a tag called ``name``, whatever its value."""

    name: str


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


Node = Comparison | HasTag | Not | And | Or


def to_text(node: Node) -> str:
    """Write ``node`` back as an expression that parses to the same tree (canonical, fully bracketed)."""
    if isinstance(node, Comparison):
        value = _number_text(node.value) if isinstance(node.value, float) else _quote(node.value)
        return f"{_quote(node.name)}{node.op}{value}"
    if isinstance(node, HasTag):
        return _quote(node.name)
    if isinstance(node, Not):
        return f"!({to_text(node.operand)})"
    joiner = " && " if isinstance(node, And) else " || "
    return "(" + joiner.join(to_text(op) for op in node.operands) + ")"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number_text(value: float) -> str:
    return repr(value)


# -- tokens --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(" ")" "!" "&&" "||" "op" "word" "string" "end"
    text: str
    position: int


def _tokenize(expr: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch.isspace():
            i += 1
            continue
        two = expr[i : i + 2]
        if two in ("&&", "||"):
            tokens.append(_Token(two, two, i))
            i += 2
        elif two in ("==", "!=", "<=", ">="):
            tokens.append(_Token("op", two, i))
            i += 2
        elif ch in "<>":
            tokens.append(_Token("op", ch, i))
            i += 1
        elif ch in "()!":
            tokens.append(_Token(ch, ch, i))
            i += 1
        elif ch == "=":
            raise TagFilterError("a single '=' is not an operator; use '==' to compare", expr, i)
        elif ch in "&|":
            raise TagFilterError(f"a single {ch!r} is not an operator; use '{ch}{ch}'", expr, i)
        elif ch in "\"'":
            start = i
            text, i = _read_quoted(expr, i)
            tokens.append(_Token("string", text, start))
        else:
            start = i
            while i < n and not expr[i].isspace() and expr[i] not in _SPECIAL:
                i += 1
            tokens.append(_Token("word", expr[start:i], start))
    tokens.append(_Token("end", "", n))
    return tokens


def _read_quoted(expr: str, start: int) -> tuple[str, int]:
    quote = expr[start]
    out: list[str] = []
    i = start + 1
    while i < len(expr):
        ch = expr[i]
        if ch == "\\":
            if i + 1 >= len(expr):
                break
            nxt = expr[i + 1]
            if nxt not in ("\\", '"', "'"):
                raise TagFilterError(f"unknown escape '\\{nxt}' in a quoted string", expr, i)
            out.append(nxt)
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise TagFilterError(f"quoted string opened with {quote} is never closed", expr, start)


# -- parser --------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = _tokenize(expr)
        self.pos = 0
        self.terms = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.pos]

    def fail(self, message: str, token: _Token | None = None) -> TagFilterError:
        token = token or self.current
        return TagFilterError(message, self.expr, token.position)

    def describe(self, token: _Token) -> str:
        return "the end of the expression" if token.kind == "end" else repr(token.text)

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise TagFilterError("the expression is empty", self.expr, 0)
        node = self.or_expr(0)
        if self.current.kind != "end":
            token = self.current
            if token.kind == ")":
                raise self.fail("')' has no matching '('")
            raise self.fail(f"expected '&&', '||' or the end of the expression, found {self.describe(token)}")
        return node

    def or_expr(self, depth: int) -> Node:
        operands = [self.and_expr(depth)]
        while self.current.kind == "||":
            self.pos += 1
            operands.append(self.and_expr(depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self, depth: int) -> Node:
        operands = [self.unary(depth)]
        while self.current.kind == "&&":
            self.pos += 1
            operands.append(self.unary(depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self, depth: int) -> Node:
        if depth >= MAX_DEPTH:
            raise self.fail(f"the expression nests deeper than {MAX_DEPTH} levels")
        token = self.current
        if token.kind == "!":
            self.pos += 1
            return Not(self.unary(depth + 1))
        if token.kind == "(":
            self.pos += 1
            node = self.or_expr(depth + 1)
            if self.current.kind != ")":
                raise self.fail(
                    f"expected ')' to close the '(' at position {token.position + 1}, "
                    f"found {self.describe(self.current)}"
                )
            self.pos += 1
            return node
        if token.kind in ("word", "string"):
            return self.term()
        if token.kind == "end":
            raise self.fail("expected a tag name, '(' or '!', found the end of the expression")
        raise self.fail(f"expected a tag name, '(' or '!', found {self.describe(token)}")

    def term(self) -> Node:
        name_token = self.current
        name = name_token.text
        if not name:
            raise self.fail("a tag name must not be empty")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.fail(f"the expression has more than {MAX_TERMS} tag conditions", name_token)
        self.pos += 1
        if self.current.kind != "op":
            return HasTag(name)
        op = self.current.text
        self.pos += 1
        value_token = self.current
        if value_token.kind == "string":
            self.pos += 1
            return Comparison(name, op, value_token.text)
        if value_token.kind == "word":
            self.pos += 1
            return Comparison(name, op, _word_value(value_token.text))
        raise self.fail(f"expected a value after {op!r}, found {self.describe(value_token)}")


def _word_value(text: str) -> str | float:
    if _NUMBER_RE.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    return text


def parse(expression: str) -> Node:
    """Parse ``expression`` into a tree, or raise ``TagFilterError`` naming the position of the fault."""
    if not isinstance(expression, str):
        raise TypeError(f"a tag filter must be a string, got {type(expression).__name__}")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise TagFilterError(
            f"the expression is {len(expression)} characters long, the maximum is {MAX_EXPRESSION_LENGTH}",
            expression[:MAX_EXPRESSION_LENGTH],
            MAX_EXPRESSION_LENGTH,
        )
    return _Parser(expression).parse()


def tag_names(node: Node) -> set[str]:
    """Every tag name that ``node`` mentions."""
    if isinstance(node, Comparison | HasTag):
        return {node.name}
    if isinstance(node, Not):
        return tag_names(node.operand)
    names: set[str] = set()
    for operand in node.operands:
        names |= tag_names(operand)
    return names


def evaluate(node: Node, tags: dict[str, Any]) -> bool:
    """Whether a trace with ``tags`` (name -> value) matches: the reference semantics the SQL must follow."""
    if isinstance(node, HasTag):
        return node.name in tags
    if isinstance(node, Comparison):
        if node.name not in tags:
            return False
        actual = tags[node.name]
        if isinstance(node.value, float):
            number = numeric_reading(actual)
            return number is not None and _compare(number, node.op, node.value)
        if not isinstance(actual, str):
            return False
        return _compare(actual, node.op, node.value)
    if isinstance(node, Not):
        return not evaluate(node.operand, tags)
    if isinstance(node, And):
        return all(evaluate(op, tags) for op in node.operands)
    return any(evaluate(op, tags) for op in node.operands)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == ">":
        return bool(left > right)
    if op == "<=":
        return bool(left <= right)
    return bool(left >= right)
