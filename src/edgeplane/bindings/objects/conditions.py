"""R2's ``only_if`` (conditional get/put) and ``range``, parsed once into checks the bucket applies.

Both take Python-style dicts (``{"etag_matches": …, "uploaded_before": datetime}``, ``{"offset": 0,
"length": 10}`` or ``{"suffix": 10}``) or their HTTP header forms (``{"If-None-Match": "*"}``, ``"bytes=0-9"``),
so a worker can pass a request's headers straight through. Precedence follows RFC 9110 §13.2.2: ``If-Match``
overrides ``If-Unmodified-Since`` and ``If-None-Match`` overrides ``If-Modified-Since``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.objects.base import ObjectMeta, RangeSpec

__all__ = ["Conditions", "RangeSpec", "parse_conditions", "parse_range"]

_HEADERS = {
    "if-match": "etag_matches",
    "if-none-match": "etag_does_not_match",
    "if-unmodified-since": "uploaded_before",
    "if-modified-since": "uploaded_after",
}
_KEYS = set(_HEADERS.values())


def _fail(message: str, code: str = "R2_INVALID_CONDITION") -> BindingError:
    return BindingError(message, code=code)


def _etags(value: Any, name: str, header: bool) -> tuple[str, ...] | None:
    """Entity tags to compare; weak ones (``W/"…"``) are kept with their ``W/`` so only a weak comparison
    (If-None-Match) can match them."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise _fail(f"only_if {name} must be an etag string or a list of them")
    tags = []
    for item in (t.strip() for t in items):
        if not item:
            continue
        weak = item.startswith("W/")
        bare = item.removeprefix("W/").strip('"') if header or weak else item.strip('"')
        tags.append(f"W/{bare}" if weak else bare)
    return tuple(tags) or None


def _instant(value: Any, name: str, header: bool) -> float | None:
    """Epoch seconds; an HTTP date (a header's) is whole seconds and, as RFC 9110 says, ignored when invalid."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(value, str):
        try:
            return parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            if header:
                return None
            raise _fail(f"only_if {name} must be a datetime or an HTTP date, got {value!r}") from None
    raise _fail(f"only_if {name} must be a datetime or an HTTP date")


@dataclass(frozen=True, slots=True)
class Conditions:
    etag_matches: tuple[str, ...] | None = None
    etag_does_not_match: tuple[str, ...] | None = None
    uploaded_before: float | None = None
    uploaded_after: float | None = None
    seconds: bool = False
    """Dates came from HTTP headers: compare the upload time truncated to whole seconds."""

    def _before(self, uploaded: float) -> bool:
        """If-Unmodified-Since holds at the same second (RFC 9110); ``uploaded_before`` is strict, as in R2."""
        assert self.uploaded_before is not None
        return uploaded <= self.uploaded_before if self.seconds else uploaded < self.uploaded_before

    def met_by(self, meta: ObjectMeta | None) -> bool:
        """Whether ``meta`` (None: no such object) satisfies every condition.

        If-Match compares strongly (a weak tag never matches), If-None-Match weakly; a passing If-Match makes
        If-Unmodified-Since irrelevant and a passing If-None-Match makes If-Modified-Since irrelevant."""
        uploaded = None if meta is None else (math.floor(meta.uploaded) if self.seconds else meta.uploaded)
        if self.etag_matches is not None:
            if meta is None or ("*" not in self.etag_matches and meta.etag not in self.etag_matches):
                return False
        elif self.uploaded_before is not None and uploaded is not None and not self._before(uploaded):
            return False
        if self.etag_does_not_match is not None:
            weak = {t.removeprefix("W/") for t in self.etag_does_not_match}
            if meta is not None and ("*" in weak or meta.etag in weak):
                return False
        elif self.uploaded_after is not None and (uploaded is None or uploaded <= self.uploaded_after):
            return False
        return True


def parse_conditions(only_if: Mapping[str, Any] | None) -> Conditions | None:
    if only_if is None:
        return None
    if not isinstance(only_if, Mapping):
        raise _fail("only_if must be a dict (etag_matches, …) or request headers (If-Match, …)")
    values: dict[str, Any] = {}
    # Python-style keys (snake_case) are checked strictly; otherwise this is a request's headers, of which only
    # the conditional ones count
    header = not any(isinstance(name, str) and "_" in name for name in only_if)
    for name, value in only_if.items():
        if not isinstance(name, str):
            raise _fail(f"only_if keys must be strings, got {name!r}")
        key = _HEADERS.get(name.lower()) if header else name
        if key is None:
            if name.lower().startswith("if-"):  # If-Range and friends are not conditions R2 supports
                raise _fail(f"unsupported conditional header {name!r}; use {sorted(_HEADERS)}")
            continue
        if key not in _KEYS:
            raise _fail(f"unknown only_if key {name!r}; use one of {sorted(_KEYS)}")
        values[key] = value
    return Conditions(
        etag_matches=_etags(values.get("etag_matches"), "etag_matches", header),
        etag_does_not_match=_etags(values.get("etag_does_not_match"), "etag_does_not_match", header),
        uploaded_before=_instant(values.get("uploaded_before"), "uploaded_before", header),
        uploaded_after=_instant(values.get("uploaded_after"), "uploaded_after", header),
        seconds=header,
    )


def _int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _fail(f"range {name} must be a non-negative integer", "R2_INVALID_RANGE")
    return value


def parse_range(value: Mapping[str, Any] | str | None) -> RangeSpec | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _range_header(value)  # None (the whole object) when it is not one satisfiable byte range
    if not isinstance(value, Mapping):
        raise _fail("range must be {offset, length}, {suffix} or 'bytes=a-b'", "R2_INVALID_RANGE")
    unknown = set(value) - {"offset", "length", "suffix"}
    if unknown:
        raise _fail(f"unknown range keys {sorted(unknown)}; use offset/length or suffix", "R2_INVALID_RANGE")
    spec = RangeSpec(_int(value.get("offset"), "offset"), _int(value.get("length"), "length"),
                     _int(value.get("suffix"), "suffix"))  # fmt: skip
    if spec.suffix is not None and (spec.offset is not None or spec.length is not None):
        raise _fail("range suffix cannot be combined with offset or length", "R2_INVALID_RANGE")
    return spec


def _range_header(value: str) -> RangeSpec | None:
    """A ``Range`` header: as HTTP allows and R2 does, anything but one valid byte range means the whole
    object, and an unsatisfiable one does too (``lenient``)."""
    unit, _, spec = value.strip().partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or "," in spec:
        return None
    try:
        if not first.strip():
            return RangeSpec(suffix=int(last), lenient=True)
        start = int(first)
        if not last.strip():
            return RangeSpec(offset=start, lenient=True)
        end = int(last)
    except ValueError:
        return None
    if end < start or start < 0:
        return None
    return RangeSpec(offset=start, length=end - start + 1, lenient=True)
