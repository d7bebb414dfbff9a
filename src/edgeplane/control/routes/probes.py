"""``/v1/probes``: the synthetic probes this node runs, their latest results and the last hour's figures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from edgeplane.control.routes.auth import Reader, control_of
from edgeplane.errors import NotFound

__all__ = ["router"]

router = APIRouter(tags=["probes"])


@router.get("/v1/probes")
async def list_probes(request: Request, _: Reader, results: Annotated[int, Query(ge=0, le=1000)] = 0) -> dict[str, Any]:
    """Every probe with its latest result, success rate and p95 latency over the last hour (from this node's
    colo; every node's results are in the ``edgeplane_probes`` analytics dataset). ``results``: also the latest
    N results of each, newest first."""
    probes = control_of(request).observe.probes
    out = []
    for name in probes.names():
        summary = probes.summary(name)
        if summary is None:  # removed by a reload meanwhile
            continue
        if results:
            summary["results"] = probes.results(name, results)
        out.append(summary)
    return {"colo": probes.colo, "probes": out}


@router.get("/v1/probes/{name}")
async def show_probe(
    name: str, request: Request, _: Reader, results: Annotated[int, Query(ge=0, le=1000)] = 20
) -> dict[str, Any]:
    """One probe's summary and its latest ``results`` results, newest first."""
    probes = control_of(request).observe.probes
    summary = probes.summary(name)
    if summary is None:
        known = ", ".join(probes.names()) or "none"
        raise NotFound(f"no probe named {name!r} (configured: {known})", code="probe_not_found")
    return {**summary, "results": probes.results(name, results)}
