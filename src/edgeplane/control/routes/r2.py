"""``/v1/apps/{app}/r2/{binding}/objects``: R2 buckets from outside a worker (``edgeplane r2 object …``).

Bodies stream both ways: an upload goes from the request into the bucket chunk by chunk, a download from the
bucket to the response, so objects of any size pass through without being held in memory.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from edgeplane.bindings.objects import R2ObjectBody
from edgeplane.bindings.objects.bucket import http_metadata_from_headers
from edgeplane.control.routes.auth import Deployer, Reader, control_of
from edgeplane.errors import NotFound

__all__ = ["router"]

router = APIRouter(tags=["r2"])
Env = Annotated[str, Query(description="environment whose binding to use")]
CUSTOM_PREFIX = "edgeplane-meta-"


@router.get("/v1/apps/{app}/r2/{binding}/objects")
async def list_objects(
    app: str, binding: str, request: Request, _: Reader, env: Env = "production", prefix: str | None = None,
    delimiter: str | None = None, cursor: str | None = None, limit: Annotated[int, Query()] = 1000,
    include: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:  # fmt: skip
    """One page of objects in UTF-8 byte order; ``delimiter`` rolls keys up into ``delimited_prefixes``."""
    bucket = await control_of(request).bindings.r2(app, env, binding)
    page = await bucket.list(prefix=prefix, delimiter=delimiter, cursor=cursor, limit=limit, include=include or ())
    return page.to_dict()


@router.get("/v1/apps/{app}/r2/{binding}/objects/{key:path}")
async def get_object(
    app: str, binding: str, key: str, request: Request, _: Reader, env: Env = "production"
) -> StreamingResponse:
    """The object's body (``Range`` honoured); its metadata in ``etag``, ``content-*`` and
    ``edgeplane-meta-*`` headers."""
    bucket = await control_of(request).bindings.r2(app, env, binding)
    obj = await bucket.get(key, range=request.headers.get("range"))
    if not isinstance(obj, R2ObjectBody):
        raise NotFound(f"no object {key!r} in {binding}", code="R2_NO_SUCH_KEY")
    headers: dict[str, str] = {"etag": obj.http_etag, "edgeplane-version": obj.version}
    obj.write_http_metadata(headers)
    headers |= {CUSTOM_PREFIX + name: value for name, value in obj.custom_metadata.items()}
    assert obj.range is not None
    headers["content-length"] = str(obj.range["length"])
    partial = obj.range["length"] != obj.size
    if partial:
        start = obj.range["offset"]
        headers["content-range"] = f"bytes {start}-{start + obj.range['length'] - 1}/{obj.size}"
    media = headers.pop("content-type", "application/octet-stream")
    return StreamingResponse(obj.body, status_code=206 if partial else 200, headers=headers, media_type=media)


@router.put("/v1/apps/{app}/r2/{binding}/objects/{key:path}")
async def put_object(
    app: str, binding: str, key: str, request: Request, _: Deployer, env: Env = "production"
) -> dict[str, Any]:
    """Store the request body (streamed); ``content-*``/``cache-control`` headers become HTTP metadata and
    ``edgeplane-meta-NAME`` headers custom metadata."""
    bucket = await control_of(request).bindings.r2(app, env, binding)
    http = http_metadata_from_headers(request.headers)
    custom = {h[len(CUSTOM_PREFIX) :]: v for h, v in request.headers.items() if h.startswith(CUSTOM_PREFIX)}
    obj = await bucket.put(key, request.stream(), http_metadata=http, custom_metadata=custom)
    assert obj is not None
    return obj.to_dict()


@router.delete("/v1/apps/{app}/r2/{binding}/objects/{key:path}")
async def delete_object(
    app: str, binding: str, key: str, request: Request, _: Deployer, env: Env = "production"
) -> dict[str, Any]:
    bucket = await control_of(request).bindings.r2(app, env, binding)
    await bucket.delete(key)
    return {"deleted": key}


class PresignRequest(BaseModel):
    key: str
    method: str = "GET"
    expires_in: int = Field(3600, ge=1, le=7 * 86400)


@router.post("/v1/apps/{app}/r2/{binding}/presign")
async def presign(
    app: str, binding: str, body: PresignRequest, request: Request, _: Deployer, env: Env = "production"
) -> dict[str, Any]:
    """A URL the gateway serves without a worker (GET downloads, PUT uploads), valid ``expires_in`` s."""
    bucket = await control_of(request).bindings.r2(app, env, binding)
    url = bucket.presign(body.key, method=body.method, expires_in=body.expires_in)
    return {"url": url, "method": body.method, "expires_in": body.expires_in}
