"""``/v1/observe/requests`` (the request analytics dashboard) and ``/v1/tail`` (live request records, SSE)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from edgeplane.config.deploy import parse_duration
from edgeplane.control.routes.auth import Reader, control_of
from edgeplane.errors import BadRequest, NotFound
from edgeplane.observe.requests import summary
from edgeplane.observe.tail import TailFilter, record_json

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane

__all__ = ["router"]

router = APIRouter(tags=["observe"])

HEARTBEAT_EVERY = 15.0
BATCH = 200
"""Records sent in one write when they arrive faster than the client reads."""


async def _version_number(control: ControlPlane, version_id: str) -> int | None:
    if not version_id:
        return None
    try:
        return int((await control.version(version_id))["number"])
    except NotFound:
        return None


@router.get("/v1/observe/requests")
async def requests_summary(
    request: Request, _: Reader, app: str | None = None, env: str | None = None, since: str = "1h"
) -> dict[str, Any]:
    """Request analytics over the last ``since`` (``15m``, ``1h``, ``7d``): latency p50/p95/p99, throughput,
    error rate, cache hit rate, status classes, top countries/colos/routes and a per-version breakdown."""
    try:
        seconds = parse_duration(since)
    except ValueError as exc:
        raise BadRequest(f"since: {exc}", code="invalid_request") from None
    if seconds <= 0:
        raise BadRequest("since must be more than 0 seconds", code="invalid_request")
    control = control_of(request)
    out = await summary(control.analytics, app or None, env or None, seconds)
    for version in out["versions"]:
        version["number"] = await _version_number(control, version["version_id"])
    return out


@router.get("/v1/tail")
async def tail(
    request: Request,
    _: Reader,
    app: str | None = None,
    env: str | None = None,
    version: Annotated[str | None, Query(description="vN, tag or id (with app); otherwise an id prefix")] = None,
    status: Annotated[str | None, Query(description="5xx, 4xx, 2xx, a code like 404, or a comma list")] = None,
    search: Annotated[str | None, Query(description="text the path contains (case-insensitive)")] = None,
    method: Annotated[str | None, Query(description="GET, or a comma list")] = None,
    sample: Annotated[float, Query(gt=0, le=1, description="share of matching requests sent")] = 1.0,
) -> StreamingResponse:
    """Server-sent events: ``ready`` once subscribed, then ``request`` (one per matching request, as it
    finishes), ``dropped`` (the running count of records this client was too slow to receive), keep-alives."""
    control = control_of(request)
    if version and app:
        version = (await control.resolve(app, version))["id"]
    elif version and re.fullmatch(r"v\d+", version):
        raise BadRequest(f"version {version}: give the app too (--app) to name a version by number",
                         code="invalid_request")  # fmt: skip
    wanted = TailFilter.parse(app=app, env=env, version=version, status=status, search=search, method=method,
                              sample=sample)  # fmt: skip
    hub, colo = control.observe.tail, control.config.colo
    filters = {"app": app, "env": env, "version": version, "status": status, "search": search, "method": method,
               "sample": sample}  # fmt: skip

    async def frames() -> AsyncIterator[bytes]:
        with hub.subscribe(wanted) as subscriber:
            yield _frame("ready", {"colo": colo, "filters": filters})
            reported, beat = 0, time.monotonic()
            while not subscriber.closed:
                record = await subscriber.next(HEARTBEAT_EVERY)
                chunk: list[bytes] = []
                while record is not None:
                    number = await _version_number(control, record.version_id)
                    chunk.append(_frame("request", record_json(record, colo, number)))
                    if len(chunk) >= BATCH or subscriber.queue.empty():
                        break
                    record = subscriber.queue.get_nowait()
                if subscriber.dropped != reported:
                    reported = subscriber.dropped
                    chunk.append(_frame("dropped", {"dropped": reported}))
                if time.monotonic() - beat > HEARTBEAT_EVERY:
                    beat = time.monotonic()
                    chunk.append(b": keep-alive\n\n")
                if chunk:
                    yield b"".join(chunk)

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)


def _frame(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
