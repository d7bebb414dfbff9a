"""Resolve what a user types (``v3``, ``3``, a tag, an id or id prefix, ``latest``) to one version."""

from __future__ import annotations

import re
from typing import Any

from edgeplane.errors import BadRequest, NotFound

__all__ = ["resolve_version"]


def resolve_version(ref: str, versions: list[dict[str, Any]]) -> dict[str, Any]:
    """Find ``ref`` among ``versions``: ``latest``, ``vN``/``N``, exact id, tag, or a unique id prefix (≥ 4)."""
    ref = ref.strip()
    if not versions:
        raise NotFound("no versions uploaded yet; run 'edgeplane versions upload'", code="version_not_found")
    if ref == "latest":
        return max(versions, key=lambda v: v["number"])
    number = re.fullmatch(r"v?(\d+)", ref)
    if number:
        for v in versions:
            if v["number"] == int(number.group(1)):
                return v
    for v in versions:
        if v["id"] == ref:
            return v
    tagged = [v for v in versions if v.get("tag") == ref]
    if len(tagged) == 1:
        return tagged[0]
    if len(tagged) > 1:
        return max(tagged, key=lambda v: v["number"])
    if len(ref) >= 4:
        matches = [v for v in versions if v["id"].startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(v["id"][:12] for v in matches)
            raise BadRequest(f"version {ref!r} is ambiguous: {ids}; give more characters", code="version_ambiguous")
    raise NotFound(
        f"unknown version {ref!r}; see 'edgeplane versions list' (use vN, a tag, or an id prefix)",
        code="version_not_found",
    )
