"""``/v1/cache``: the gateway cache's state, and purges (by URL, prefix, host, tag, or everything) — the
request body follows Cloudflare's purge API (``files``, ``prefixes``, ``hosts``, ``tags``, ``purge_everything``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from edgeplane.control.routes.auth import Deployer, Reader, control_of

__all__ = ["router"]

router = APIRouter(tags=["cache"])


class PurgeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[str] = []
    prefixes: list[str] = []
    hosts: list[str] = []
    tags: list[str] = []
    purge_everything: bool = False


@router.get("/v1/cache")
async def cache_status(request: Request, _: Reader) -> dict[str, Any]:
    """Entries, bytes, hit ratio, responses by cache status and the hit path's counts on this node."""
    gateway = control_of(request).gateway
    return {**gateway.cache.stats(), "hit_path": gateway.hits.report()}


@router.post("/v1/cache/purge")
async def purge(request: Request, body: PurgeBody, token: Deployer) -> dict[str, Any]:
    """Purge now on this node; every other node within ``[server.edge] purge_poll`` (0.5 s)."""
    return await control_of(request).purges.purge(
        files=body.files, prefixes=body.prefixes, hosts=body.hosts, tags=body.tags,
        everything=body.purge_everything, actor=token["name"],
    )  # fmt: skip
