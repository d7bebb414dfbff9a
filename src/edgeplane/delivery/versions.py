"""Resolve what a user types (``v3``, ``3``, a tag, an id or id prefix, ``latest``) to one version."""

from __future__ import annotations

import re
from typing import Any

from edgeplane.errors import BadRequest, NotFound

__all__ = ["resolve_version"]


def resolve_version(ref: str, versions: list[dict[str, Any]]) -> dict[str, Any]:
    """Find ``ref``: ``latest``, ``vN``/``N``, exact id, tag (newest wins), or a unique id prefix (≥ 4 chars)."""
    ref = ref.strip()
    if not versions:
        raise NotFound("no versions uploaded yet; run 'edgeplane versions upload'", code="version_not_found")
    if ref == "latest":
        return max(versions, key=lambda v: v["number"])
    number = re.fullmatch(r"v?(\d+)", ref)
    exact = [
        v
        for v in versions
        if v["id"] == ref or v.get("tag") == ref or (number is not None and v["number"] == int(number.group(1)))
    ]
    if exact:
        return max(exact, key=lambda v: v["number"])
    matches = [v for v in versions if v["id"].startswith(ref)] if len(ref) >= 4 else []
    if len(matches) > 1:
        ids = ", ".join(v["id"][:12] for v in matches)
        raise BadRequest(f"version {ref!r} is ambiguous: {ids}; give more characters", code="version_ambiguous")
    if matches:
        return matches[0]
    raise NotFound(
        f"unknown version {ref!r}; see 'edgeplane versions list' (use vN, a tag, or an id prefix)",
        code="version_not_found",
    )
