"""Recursive-descent parser of the rules language into ``nodes``. Precedence, loosest first, as in Cloudflare:
``or``, ``xor``, ``and``, ``not``, then comparisons (which do not chain). Types are checked later, by ``compile``.

Grammar (English and C-like spellings are interchangeable)::

    expr    := xor (("or" | "||") xor)*
    xor     := and (("xor" | "^^") and)*
    and     := unary (("and" | "&&") unary)*
    unary   := ("not" | "!") unary | compare
    compare := value [op value | "in" set]
    value   := "(" expr ")" | string | int | ip | "true" | "false"
             | name "(" [expr ("," expr)*] ")" ["[*]"] | field ["[" string "]"] ["[*]"]
    set     := "{" (string | int [".." int] | ip)* "}"
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager

from edgeplane.edge.rules.errors import RuleSyntaxError, did_you_mean
from edgeplane.edge.rules.lexer import Token, tokenize
from edgeplane.edge.rules.nodes import Address, Call, Compare, Const, Field, Logic, Node, Not, Range, SetOf

__all__ = ["COMPARISONS", "MAX_DEPTH", "parse"]

COMPARISONS = {
    **{op: op for op in ("eq", "ne", "lt", "le", "gt", "ge", "contains", "matches", "in")},
    **{"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "~": "matches"},
}
"""Every spelling of a comparison operator, to its English name."""
_LOGIC = {"or": "or", "||": "or", "xor": "xor", "^^": "xor", "and": "and", "&&": "and"}
_LEVELS = ("or", "xor", "and")
_NOT = frozenset({"not", "!"})
_KEYWORDS = frozenset(COMPARISONS) | frozenset(_LOGIC) | _NOT
_UNSUPPORTED = {
    "wildcard": "'wildcard' is not supported: use starts_with(), ends_with() or matches",
    "strict": "'strict wildcard' is not supported: use starts_with(), ends_with() or matches",
}
_WORDS = [word for word in (*COMPARISONS, *_LOGIC) if word.isalpha()]
_ALIASES = {"equals": "eq", "equal": "eq", "is": "eq", "like": "matches", "regex": "matches"}
MAX_DEPTH = 32
"""How deeply parentheses, ``not`` and function calls may nest."""


def parse(text: str) -> Node:
    """The syntax tree of ``text``; raises RuleSyntaxError on anything that is not a well-formed expression."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    def parse(self) -> Node:
        if self._peek().kind == "end":
            raise RuleSyntaxError(1, "empty expression: write a condition, or 'true' to match every request")
        node = self._logic(0)
        token = self._peek()
        if token.kind != "end":
            raise self._trailing(token)
        return node

    # -- tokens

    def _peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def _advance(self) -> Token:
        token = self._peek()
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def _expect(self, op: str, message: str) -> Token:
        token = self._peek()
        if _word(token) != op:
            raise RuleSyntaxError(token.column, message)
        return self._advance()

    @contextmanager
    def _nested(self, token: Token) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleSyntaxError(token.column, f"the expression nests deeper than {MAX_DEPTH} levels: flatten it")
        yield
        self.depth -= 1

    # -- logic

    def _logic(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self._unary()
        operands = [self._logic(level + 1)]
        while _LOGIC.get(_word(self._peek())) == _LEVELS[level]:
            self._advance()
            operands.append(self._logic(level + 1))
        if len(operands) == 1:
            return operands[0]
        return Logic(_LEVELS[level], tuple(operands), operands[0].start, operands[-1].end)

    def _unary(self) -> Node:
        token = self._peek()
        if _word(token) not in _NOT:
            return self._comparison()
        self._advance()
        with self._nested(token):
            operand = self._unary()
        return Not(operand, token.start, operand.end)

    def _comparison(self) -> Node:
        left = self._value()
        token = self._peek()
        op = COMPARISONS.get(_word(token))
        if op is None:
            self._check_not_an_operator(token)
            return left
        self._advance()
        right = self._set() if op == "in" else self._value()
        after = self._peek()
        if _word(after) in COMPARISONS:
            raise RuleSyntaxError(after.column, "comparisons do not chain: join them with 'and' (a gt 1 and a lt 9)")
        return Compare(op, left, right, token.start, left.start, right.end)

    def _check_not_an_operator(self, token: Token) -> None:
        """Reject a word right after a value that is not 'and'/'or'/…: an operator not in the language."""
        if token.kind != "name" or token.text in _LOGIC:
            return
        self._reject_misspelled_operator(token)
        raise RuleSyntaxError(
            token.column, f"expected an operator (eq, ne, lt, contains, matches, in…) or and/or, not '{token.text}'"
        )

    @staticmethod
    def _reject_misspelled_operator(token: Token) -> None:
        word = token.text
        if word in _UNSUPPORTED:
            raise RuleSyntaxError(token.column, _UNSUPPORTED[word])
        if word in _NOT:
            raise RuleSyntaxError(token.column, "write 'not' before the whole comparison: not a in {…}")
        if word.lower() in _KEYWORDS:
            raise RuleSyntaxError(token.column, f"operators are lower case: write '{word.lower()}'")
        suggestion = f" (did you mean '{_ALIASES[word]}'?)" if word in _ALIASES else did_you_mean(word, _WORDS)
        if suggestion:
            raise RuleSyntaxError(token.column, f"unknown operator '{word}'{suggestion}")

    # -- values

    def _value(self) -> Node:
        token = self._advance()
        word = _word(token)
        if token.kind == "string":
            return Const(token.value, token.start, token.end)
        if token.kind == "int":
            return Const(int(token.text), token.start, token.end)
        if token.kind == "ip":
            return _address(token)
        if token.kind == "name" and word not in _KEYWORDS:
            return self._named(token)
        if word == "(":
            with self._nested(token):
                inner = self._logic(0)
            self._expect(")", f"missing ')' to close the '(' at column {token.column}")
            return inner
        raise _expected_value(token)

    def _named(self, token: Token) -> Node:
        if token.text in ("true", "false"):
            return Const(token.text == "true", token.start, token.end)
        if _word(self._peek()) != "(":
            key, star, end = self._subscripts(token.end, allow_key=True)
            return Field(token.text, key, star, token.start, end)
        opening = self._advance()
        args: list[Node] = []
        with self._nested(token):
            if _word(self._peek()) != ")":
                args.append(self._logic(0))
            while _word(self._peek()) == ",":
                self._advance()
                args.append(self._logic(0))
        closing = self._expect(")", f"expected ',' or ')' to close {token.text}( at column {opening.column}")
        _, star, end = self._subscripts(closing.end, allow_key=False)
        return Call(token.text, tuple(args), star, token.start, end)

    def _subscripts(self, end: int, *, allow_key: bool) -> tuple[str | None, bool, int]:
        """``["key"]`` and ``[*]`` after a field or call: (key, star, end offset)."""
        key: str | None = None
        star = False
        while _word(self._peek()) == "[":
            opening = self._advance()
            inner = self._advance()
            if inner.kind == "op" and inner.text == "*" and not star:
                star = True
            elif inner.kind == "string" and allow_key and key is None and not star:
                key = inner.value
            else:
                index = 'a quoted name (["user-agent"]) or ' if allow_key else ""
                raise RuleSyntaxError(inner.column, f"an index is {index}[*] for every element")
            end = self._expect("]", f"missing ']' to close the '[' at column {opening.column}").end
        return key, star, end

    def _set(self) -> SetOf:
        opening = self._advance()
        if _word(opening) != "{":
            raise RuleSyntaxError(
                opening.column, '\'in\' needs a set of values in braces: {"GET" "HEAD"}, {1..5} or {10.0.0.0/8}'
            )
        items: list[Const | Address | Range] = []
        while True:
            token = self._advance()
            if token.kind == "op" and token.text == "}":
                return SetOf(tuple(items), opening.start, token.end)
            if token.kind == "end":
                raise RuleSyntaxError(token.column, f"missing '}}' to close the set opened at column {opening.column}")
            if token.text == "," and token.kind == "op":
                raise RuleSyntaxError(token.column, 'set values are separated by spaces, not commas: {"a" "b"}')
            items.append(self._set_item(token))

    def _set_item(self, token: Token) -> Const | Address | Range:
        if token.kind == "string":
            return Const(token.value, token.start, token.end)
        if token.kind == "ip":
            return _address(token)
        if token.kind != "int":
            raise RuleSyntaxError(
                token.column,
                f"a set holds quoted strings, integers, ranges (1..5) or IP addresses and networks, not '{token.text}'",
            )
        low = int(token.text)
        if _word(self._peek()) != "..":
            return Const(low, token.start, token.end)
        self._advance()
        high_token = self._advance()
        if high_token.kind != "int" or int(high_token.text) < low:
            raise RuleSyntaxError(
                high_token.column, f"a range needs an upper bound of at least {low}: {low}..{low + 9}"
            )
        return Range(low, int(high_token.text), token.start, high_token.end)

    def _trailing(self, token: Token) -> RuleSyntaxError:
        if token.kind == "name":
            self._reject_misspelled_operator(token)
        if token.kind == "op" and token.text == ")":
            return RuleSyntaxError(token.column, "unbalanced ')': there is no '(' to close")
        return RuleSyntaxError(
            token.column, f"unexpected '{token.text}' after a complete condition: join conditions with 'and' or 'or'"
        )


def _word(token: Token) -> str:
    """The token's text if it can be an operator or keyword, else ``""`` (so a string "and" is never one)."""
    return token.text if token.kind in ("name", "op") else ""


def _address(token: Token) -> Address:
    try:
        network = ipaddress.ip_network(token.text)
    except ValueError:
        raise _bad_address(token) from None
    return Address(network, "/" in token.text, token.start, token.end)


def _bad_address(token: Token) -> RuleSyntaxError:
    text = token.text
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        if "/" in text:
            return RuleSyntaxError(
                token.column,
                f"invalid network '{text}': write an address and prefix length (10.0.0.0/8, 2001:db8::/32)",
            )
        return RuleSyntaxError(token.column, f"invalid IP address '{text}'")
    return RuleSyntaxError(token.column, f"network '{text}' has host bits set (did you mean '{loose}'?)")


def _expected_value(token: Token) -> RuleSyntaxError:
    word = _word(token)
    if token.kind == "end":
        return RuleSyntaxError(token.column, "the expression ends too early: a value is missing")
    if word in COMPARISONS:
        return RuleSyntaxError(token.column, f"'{word}' needs a field or value on its left")
    if word in _LOGIC:
        return RuleSyntaxError(token.column, f"'{word}' needs a condition on its left")
    if word == "{":
        return RuleSyntaxError(token.column, "a set {…} can only follow 'in'")
    return RuleSyntaxError(token.column, f"expected a field, function or value, not '{token.text}'")
