"""``/v1/apps/{app}/kv/{binding}/keys``: Workers KV from outside a worker (``edgeplane kv key …``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from edgeplane.bindings.errors import BindingError
from edgeplane.control.routes.auth import Deployer, Reader, control_of
from edgeplane.errors import NotFound

__all__ = ["router"]

router = APIRouter(tags=["kv"])
Env = Annotated[str, Query(description="environment whose binding to use")]
METADATA_HEADER = "edgeplane-kv-metadata"
EXPIRATION_HEADER = "edgeplane-kv-expiration"


@router.get("/v1/apps/{app}/kv/{binding}/keys")
async def list_keys(
    app: str, binding: str, request: Request, _: Reader, env: Env = "production", prefix: str | None = None,
    limit: Annotated[int, Query()] = 1000, cursor: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Keys in UTF-8 byte order with expiration and metadata; pass ``cursor`` for the next page."""
    control = control_of(request)
    namespace = await control.bindings.kv(app, env, binding)
    return control.bindings.listing(await namespace.list(prefix=prefix, limit=limit, cursor=cursor))


@router.get("/v1/apps/{app}/kv/{binding}/keys/{key:path}")
async def get_key(app: str, binding: str, key: str, request: Request, _: Reader, env: Env = "production") -> Response:
    """The raw value; metadata (JSON) in the ``edgeplane-kv-metadata`` header."""
    namespace = await control_of(request).bindings.kv(app, env, binding)
    result = await namespace.get_with_metadata(key, type="bytes")
    if result.value is None:
        raise NotFound(f"no key {key!r} in {binding}", code="KV_KEY_NOT_FOUND")
    headers = {METADATA_HEADER: json.dumps(result.metadata)} if result.metadata is not None else {}
    return Response(result.value, media_type="application/octet-stream", headers=headers)


@router.put("/v1/apps/{app}/kv/{binding}/keys/{key:path}")
async def put_key(
    app: str, binding: str, key: str, request: Request, _: Deployer, env: Env = "production",
    expiration: int | None = None, expiration_ttl: int | None = None, metadata: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Store the request body as the value; ``metadata`` is a JSON string."""
    namespace = await control_of(request).bindings.kv(app, env, binding)
    try:
        meta = json.loads(metadata) if metadata is not None else None
    except ValueError as exc:
        raise BindingError(f"metadata is not valid JSON: {exc}", code="KV_INVALID_METADATA") from None
    value = await request.body()
    await namespace.put(key, value, expiration=expiration, expiration_ttl=expiration_ttl, metadata=meta)
    return {"key": key, "bytes": len(value)}


@router.delete("/v1/apps/{app}/kv/{binding}/keys/{key:path}")
async def delete_key(
    app: str, binding: str, key: str, request: Request, _: Deployer, env: Env = "production"
) -> dict[str, Any]:
    namespace = await control_of(request).bindings.kv(app, env, binding)
    await namespace.delete(key)
    return {"deleted": key}
