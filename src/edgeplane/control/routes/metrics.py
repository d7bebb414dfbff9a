"""``GET /metrics``: the Prometheus scrape endpoint (text format 0.0.4) of this platform node.

It needs a ``read`` token, which Prometheus sends as ``Authorization: Bearer`` (``authorization:`` in a scrape
config); ``[server.observe] metrics_public = true`` serves it without one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from edgeplane.control.routes.auth import control_of
from edgeplane.observe.metrics import CONTENT_TYPE

__all__ = ["router"]

router = APIRouter(tags=["observe"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    """Request counters and latency histograms per version, worker pools, rollouts, alerts, notifications."""
    control = control_of(request)
    if not control.config.observe.metrics_public:
        await control.auth.check(authorization, "read")
    return Response(control.observe.metrics.render(), media_type=CONTENT_TYPE)
