"""Type-checks a parsed expression and compiles it to one Python function.

The expression becomes the source of a single ``return`` statement, compiled once with ``compile()``. Nothing the
user wrote reaches that source as text: string and integer literals go in through ``repr``, header and cookie
names through ``repr`` inside the field's fixed template, and sets and regexes are built here and bound to the
function as closure constants (``_c0``, ``_c1``…). The function runs with no builtins but ``any``, ``all`` and
``len`` and the helpers of ``runtime``.

Types (checked here, so a rule that loads never fails at request time):

* strings take ``eq ne lt le gt ge contains matches in``; ``lt``/``gt``… compare by code point, as in Cloudflare;
* integers take ``eq ne lt le gt ge in`` (sets may hold ranges, ``{1..5}``);
* IP addresses take ``eq ne`` against an address and ``in`` against a set of addresses and CIDR networks;
* booleans stand alone (``edgeplane.user.mfa``) or take ``eq``/``ne`` against ``true``/``false``.

``matches`` is an unanchored search with Python's ``re``, compiled when the rule loads. Python's engine
backtracks: a pattern like ``(a+)+$`` can take exponential time on a crafted input. Nothing is rejected for it
(no static check is reliable); keep patterns simple, or use atomic groups / possessive quantifiers, which ``re``
supports. The inputs are bounded by the gateway's header and body inspection limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from edgeplane.edge.request import EdgeRequest
from edgeplane.edge.rules.errors import RuleSyntaxError, did_you_mean
from edgeplane.edge.rules.fields import AGGREGATES, FIELDS, FUNCTIONS, KIND_NAMES, FieldSpec, Kind
from edgeplane.edge.rules.nodes import Address, Call, Compare, Const, Field, Logic, Node, Not, Range, SetOf
from edgeplane.edge.rules.parser import parse
from edgeplane.edge.rules.runtime import RUNTIME, IPSet, address_key, int_set

__all__ = ["Predicate", "compile_expression", "fields_used"]

Predicate = Callable[[EdgeRequest], bool]

_OPERATORS: dict[Kind, frozenset[str]] = {
    "string": frozenset({"eq", "ne", "lt", "le", "gt", "ge", "contains", "matches", "in"}),
    "int": frozenset({"eq", "ne", "lt", "le", "gt", "ge", "in"}),
    "ip": frozenset({"eq", "ne", "in"}),
    "bool": frozenset({"eq", "ne"}),
    "array": frozenset(),
}
_OPERATOR_HINTS: dict[Kind, str] = {
    "string": "",
    "int": "; compare it with eq, ne, lt, le, gt, ge or in {…}",
    "ip": "; use eq, ne or in {10.0.0.0/8 …}",
    "bool": "; use it alone (edgeplane.user.mfa) or with eq true / eq false",
    "array": '; look at its elements: any(http.request.headers.names[*] eq "x-debug")',
}
_PYTHON_OPS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_BUILTINS = {"any": any, "all": all, "len": len}


def compile_expression(text: str) -> Predicate:
    """The expression as a function of an ``EdgeRequest`` returning ``True`` when it matches; raises
    RuleSyntaxError (a ValueError) on any syntax or type error. ``compile_expression("true")`` matches all."""
    translator = _Translator(text)
    body = translator.translate_root(parse(text))
    return cast(Predicate, _build(f"    def rule(r):\n        return {body}\n    return rule\n", translator.constants))


FirstMatch = Callable[[Any, int], int]


def compile_first_match(texts: Sequence[str]) -> FirstMatch:
    """An ordered list of expressions as one function ``first(request, start)``: the index of the first
    expression at or after ``start`` that matches, -1 when none does. The same predicates ``compile_expression``
    makes, in one call for a rule list instead of one per rule."""
    constants: list[object] = []
    lines = []
    for index, text in enumerate(texts):
        body = _Translator(text, constants).translate_root(parse(text))
        lines.append(f"        if start <= {index} and ({body}):\n            return {index}\n")
    source = f"    def first(r, start):\n{''.join(lines)}        return -1\n    return first\n"
    return cast(FirstMatch, _build(source, constants))


def _build(inner: str, constants: list[object]) -> Callable[..., Any]:
    """Compile ``inner`` (a function definition and its return, indented) with ``constants`` bound as closure
    constants ``_c0``, ``_c1``…, with no builtins but ``_BUILTINS`` and the runtime helpers."""
    names = ", ".join(f"_c{i}" for i in range(len(constants)))
    namespace: dict[str, object] = {"__builtins__": _BUILTINS, **RUNTIME}
    exec(compile(f"def _factory({names}):\n{inner}", "<edgeplane rule>", "exec"), namespace)
    factory = cast(Callable[..., Callable[..., Any]], namespace["_factory"])
    return factory(*constants)


def fields_used(text: str) -> frozenset[str]:
    """The fields ``text`` reads, by name without index (``http.request.headers`` for any header), so a caller
    knows what to prepare first (see ``BODY_FIELDS``, ``IDENTITY_FIELDS``, ``BOT_FIELDS``). Raises
    RuleSyntaxError like ``compile_expression``."""
    translator = _Translator(text)
    translator.translate_root(parse(text))
    return frozenset(translator.fields)


@dataclass(frozen=True, slots=True)
class _Each:
    """The ``[*]`` a value depends on: the loop variable standing for one element, and the array's Python."""

    var: str
    array: str
    column: int


@dataclass(frozen=True, slots=True)
class _Typed:
    code: str
    kind: Kind
    each: _Each | None = None


class _Translator:
    def __init__(self, text: str, constants: list[object] | None = None) -> None:
        self.text = text
        self.constants: list[object] = constants if constants is not None else []
        """Closure constants, shared by the expressions of one ``compile_first_match``."""
        self.fields: set[str] = set()
        self.loops = 0

    def translate_root(self, node: Node) -> str:
        typed = self.translate(node)
        if typed.kind != "bool":
            raise RuleSyntaxError(
                node.start + 1,
                f"the expression must be true or false, but {self.quote(node)} is {KIND_NAMES[typed.kind]}: "
                f"compare it (e.g. {self.text[node.start : node.end]} eq …)",
            )
        if typed.each is not None:
            raise _unaggregated(typed.each)
        return typed.code

    def quote(self, node: Node | Range) -> str:
        """What the user wrote for ``node``, in quotes unless it is a literal."""
        text = self.text[node.start : node.end]
        return text if isinstance(node, Const | Address | Range) else f"'{text}'"

    def constant(self, value: object) -> str:
        self.constants.append(value)
        return f"_c{len(self.constants) - 1}"

    def translate(self, node: Node) -> _Typed:
        if isinstance(node, Const | Address):
            return self.literal(node)
        if isinstance(node, Field):
            return self.field(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Not):
            operand = self.condition(node.operand, "'not'")
            return _Typed(f"(not {operand.code})", "bool", operand.each)
        return self.logic(node)

    # -- values

    def literal(self, node: Const | Address) -> _Typed:
        if isinstance(node, Const):
            return _Typed(repr(node.value), _kind_of(node.value))
        if node.is_network:
            raise RuleSyntaxError(
                node.start + 1, f"a network only goes in a set: ip.src in {{{self.text[node.start : node.end]}}}"
            )
        return _Typed(repr(address_key(node.network.network_address)), "ip")

    def field(self, node: Field) -> _Typed:
        spec = FIELDS.get(node.name)
        if spec is None:
            raise RuleSyntaxError(node.start + 1, f"unknown field '{node.name}'{did_you_mean(node.name, FIELDS)}")
        self.fields.add(node.name)
        key = self.field_key(node, spec)
        if not node.star:
            return _Typed(spec.code.format(key=repr(key), bkey=repr(key.lower().encode("latin-1"))), spec.kind)
        if spec.each is None:
            raise RuleSyntaxError(
                node.start + 1,
                f'{node.name} is not an array: [*] works on http.request.headers["name"] and '
                "http.request.headers.names",
            )
        var = f"_e{self.loops}"
        self.loops += 1
        return _Typed(var, "string", _Each(var, spec.each.format(key=repr(key)), node.start + 1))

    def field_key(self, node: Field, spec: FieldSpec) -> str:
        if spec.indexed and node.key is None:
            raise RuleSyntaxError(node.end + 1, f'{node.name} needs a name in brackets: {node.name}["x-example"]')
        if not spec.indexed and node.key is not None:
            raise RuleSyntaxError(node.start + 1, f'{node.name} takes no ["…"] index')
        key = node.key or ""
        if not key.isascii():
            raise RuleSyntaxError(node.start + 1, f"the name in {node.name}[…] must be ASCII")
        return key

    def call(self, node: Call) -> _Typed:
        if node.name in AGGREGATES:
            return self.aggregate(node)
        spec = FUNCTIONS.get(node.name)
        if spec is None:
            known = [*FUNCTIONS, *AGGREGATES]
            what = "is a field, not a function" if node.name in FIELDS else "is an unknown function"
            raise RuleSyntaxError(node.start + 1, f"'{node.name}' {what}{did_you_mean(node.name, known)}")
        low = len(spec.params)
        if len(node.args) < low or (len(node.args) > low and not spec.variadic):
            count = f"at least {low}" if spec.variadic else str(low)
            plural = "" if low == 1 else "s"
            raise RuleSyntaxError(node.start + 1, f"{node.name}() takes {count} argument{plural}, got {len(node.args)}")
        args = [self.argument(node.name, arg, spec.params[min(i, low - 1)]) for i, arg in enumerate(node.args)]
        each = self.one_each([arg.each for arg in args], node)
        if node.star and each is None:
            raise RuleSyntaxError(node.start + 1, f"{node.name}(…) is not an array: [*] does not apply")
        return _Typed(spec.build([arg.code for arg in args]), spec.result, each)

    def argument(self, function: str, node: Node, accepted: frozenset[Kind]) -> _Typed:
        typed = self.translate(node)
        if typed.kind not in accepted:
            wanted = " or ".join(KIND_NAMES[kind] for kind in sorted(accepted, reverse=True))
            raise RuleSyntaxError(
                node.start + 1, f"{function}() needs {wanted}, but {self.quote(node)} is {KIND_NAMES[typed.kind]}"
            )
        return typed

    def aggregate(self, node: Call) -> _Typed:
        example = f'{node.name}(http.request.headers.names[*] eq "x-debug")'
        if len(node.args) != 1 or node.star:
            raise RuleSyntaxError(node.start + 1, f"{node.name}() takes one condition, as in {example}")
        condition = self.translate(node.args[0])
        if condition.kind != "bool" or condition.each is None:
            raise RuleSyntaxError(
                node.args[0].start + 1,
                f"{node.name}() needs a condition on an array's elements, marked with [*], as in {example}",
            )
        each = condition.each
        return _Typed(f"{node.name}({condition.code} for {each.var} in {each.array})", "bool")

    def one_each(self, eaches: list[_Each | None], node: Node) -> _Each | None:
        found = {each for each in eaches if each is not None}
        if len(found) > 1:
            second = max(each.column for each in found)
            raise RuleSyntaxError(second, f"only one [*] per any()/all(): {self.quote(node)} has {len(found)}")
        return found.pop() if found else None

    # -- conditions

    def condition(self, node: Node, where: str) -> _Typed:
        typed = self.translate(node)
        if typed.kind != "bool":
            raise RuleSyntaxError(
                node.start + 1,
                f"{where} needs a condition, but {self.quote(node)} is {KIND_NAMES[typed.kind]}: compare it "
                f"(e.g. {self.text[node.start : node.end]} eq …)",
            )
        return typed

    def logic(self, node: Logic) -> _Typed:
        operands = [self.condition(operand, f"'{node.op}'") for operand in node.operands]
        each = self.one_each([operand.each for operand in operands], node)
        if node.op != "xor":
            return _Typed("(" + f" {node.op} ".join(o.code for o in operands) + ")", "bool", each)
        code = operands[0].code
        for operand in operands[1:]:
            code = f"({code} != {operand.code})"
        return _Typed(code, "bool", each)

    def compare(self, node: Compare) -> _Typed:
        left = self.translate(node.left)
        if node.op not in _OPERATORS[left.kind]:
            raise RuleSyntaxError(
                node.op_start + 1,
                f"'{node.op}' does not work on {KIND_NAMES[left.kind]} ({self.quote(node.left)})"
                + _OPERATOR_HINTS[left.kind],
            )
        if isinstance(node.right, SetOf):
            return _Typed(f"({left.code} in {self.set_constant(node.left, left.kind, node.right)})", "bool", left.each)
        if node.op == "matches":
            return _Typed(f"({self.regex(node.right)}.search({left.code}) is not None)", "bool", left.each)
        right = self.operand(node.left, left.kind, node.right)
        each = self.one_each([left.each, right.each], node)
        if node.op == "contains":
            return _Typed(f"({right.code} in {left.code})", "bool", each)
        return _Typed(f"({left.code} {_PYTHON_OPS[node.op]} {right.code})", "bool", each)

    def operand(self, left: Node, kind: Kind, node: Node) -> _Typed:
        """The right side of a comparison, which must have the left side's kind."""
        if kind == "ip" and isinstance(node, Address) and node.is_network:
            network = self.text[node.start : node.end]
            raise RuleSyntaxError(
                node.start + 1, f"to match a network, use a set: {self.text[left.start : left.end]} in {{{network}}}"
            )
        right = self.translate(node)
        if right.kind != kind:
            raise self.mismatch(left, kind, node, right.kind)
        return right

    def mismatch(self, left: Node, kind: Kind, right: Node | Range, right_kind: Kind) -> RuleSyntaxError:
        message = f"{self.quote(left)} is {KIND_NAMES[kind]} but {self.quote(right)} is {KIND_NAMES[right_kind]}"
        if kind == "string" and isinstance(right, Const | Address | Range):
            message += f'; quote it: "{self.text[right.start : right.end]}"'
        elif isinstance(right, Const) and isinstance(right.value, str) and _lexes_as(right.value, kind):
            message += f"; drop the quotes: {right.value}"
        return RuleSyntaxError(right.start + 1, message)

    def regex(self, node: Node) -> str:
        if not (isinstance(node, Const) and isinstance(node.value, str)):
            raise RuleSyntaxError(node.start + 1, 'matches needs a regular expression in quotes: matches "^/api/"')
        try:
            return self.constant(re.compile(node.value))
        except re.error as error:
            where = f" at position {error.pos} of the pattern" if error.pos is not None else ""
            raise RuleSyntaxError(node.start + 1, f"invalid regular expression: {error.msg}{where}") from None
        except (OverflowError, RecursionError) as error:
            raise RuleSyntaxError(node.start + 1, f"invalid regular expression: {error}") from None

    def set_constant(self, left: Node, kind: Kind, node: SetOf) -> str:
        for item in node.items:
            item_kind = _item_kind(item)
            if item_kind != kind:
                raise self.mismatch(left, kind, item, item_kind)
        if kind == "ip":
            return self.constant(IPSet(item.network for item in node.items if isinstance(item, Address)))
        if kind == "int":
            ranges = [(item.low, item.high) for item in node.items if isinstance(item, Range)]
            values = [item.value for item in node.items if isinstance(item, Const) and isinstance(item.value, int)]
            return self.constant(int_set(values, ranges))
        return self.constant(frozenset(item.value for item in node.items if isinstance(item, Const)))


def _kind_of(value: str | int | bool) -> Kind:
    if isinstance(value, bool):
        return "bool"
    return "int" if isinstance(value, int) else "string"


def _item_kind(item: Const | Address | Range) -> Kind:
    if isinstance(item, Const):
        return _kind_of(item.value)
    return "ip" if isinstance(item, Address) else "int"


def _lexes_as(text: str, kind: Kind) -> bool:
    """Whether ``text`` (a quoted string's content) would be a literal of ``kind`` without its quotes."""
    try:
        node = parse(text)
    except RuleSyntaxError:
        return False
    if kind == "ip":
        return isinstance(node, Address)
    return isinstance(node, Const) and _kind_of(node.value) == kind


def _unaggregated(each: _Each) -> RuleSyntaxError:
    return RuleSyntaxError(each.column, "[*] yields one value per element: wrap the condition in any(…) or all(…)")
