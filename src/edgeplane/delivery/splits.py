"""Traffic splits: ``v1@90 v2@10`` — validated before anything changes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgeplane.errors import BadRequest

__all__ = ["MAX_VERSIONS", "Split", "parse_split", "validate_splits"]

MAX_VERSIONS = 10


@dataclass(frozen=True)
class Split:
    version: str
    percentage: float


def parse_split(text: str) -> Split:
    """``REF@PCT`` (``v2@10``, ``abc123@12.5``, ``canary@10%``) or a bare ``REF`` meaning 100%."""
    ref, sep, pct = text.strip().rpartition("@")
    if not sep:
        return Split(text.strip(), 100.0)
    try:
        value = float(pct.rstrip("%"))
    except ValueError:
        raise BadRequest(f"{text!r}: percentage {pct!r} is not a number (use REF@PCT, e.g. v2@10)") from None
    return Split(ref, value)


def validate_splits(splits: list[Split]) -> None:
    """Percentages in [0, 100] with at most two decimals, summing to 100; distinct refs; at most 10."""
    if not splits:
        raise BadRequest("give at least one version, e.g. 'v3' or 'v2@90 v3@10'", code="invalid_split")
    if len(splits) > MAX_VERSIONS:
        raise BadRequest(f"at most {MAX_VERSIONS} versions in one deployment", code="invalid_split")
    for s in splits:
        if not s.version:
            raise BadRequest("a split is missing its version (use REF@PCT)", code="invalid_split")
        if not math.isfinite(s.percentage) or not 0 <= s.percentage <= 100:
            raise BadRequest(
                f"{s.version}@{s.percentage:g}: percentage must be between 0 and 100", code="invalid_split"
            )
        if abs(round(s.percentage, 2) - s.percentage) > 1e-9:
            raise BadRequest(f"{s.version}@{s.percentage}: at most two decimals", code="invalid_split")
    total = sum(s.percentage for s in splits)
    if abs(total - 100) > 1e-6:
        shown = " + ".join(f"{s.percentage:g}" for s in splits)
        raise BadRequest(f"percentages must sum to 100, got {shown} = {total:g}", code="invalid_split")
