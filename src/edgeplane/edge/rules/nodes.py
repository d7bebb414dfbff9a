"""The syntax tree the parser builds and the compiler walks. Every node keeps ``start``/``end`` offsets into the
expression so errors can quote what the user wrote and point at its column."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import TypeAlias

__all__ = ["Address", "Call", "Compare", "Const", "Field", "Logic", "Node", "Not", "Range", "SetOf"]


@dataclass(frozen=True, slots=True)
class Const:
    """A string, integer or boolean literal."""

    value: str | int | bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Address:
    """An IP literal: one address, or a network (``is_network``) when written with a ``/prefix``."""

    network: IPv4Network | IPv6Network
    is_network: bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Range:
    """``low..high`` inside a set (inclusive)."""

    low: int
    high: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SetOf:
    """``{...}`` on the right of ``in``."""

    items: tuple[Const | Address | Range, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Field:
    """``http.request.headers["x-api-key"][*]``: a field, its ``["key"]`` index if any, and whether ``[*]``
    follows (the value is then one element of the field's array, inside ``any``/``all``)."""

    name: str
    key: str | None
    star: bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]
    star: bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right``; ``op`` in its English form (``eq``, ``matches``…), ``right`` a SetOf for ``in``."""

    op: str
    left: Node
    right: Node | SetOf
    op_start: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Logic:
    """``a and b and c`` (``op`` is ``and``, ``or`` or ``xor``), chains kept flat."""

    op: str
    operands: tuple[Node, ...]
    start: int
    end: int


Node: TypeAlias = Const | Address | Field | Call | Compare | Not | Logic
