"""``/v1/incidents``: list, open by hand, show (with timeline and response figures), acknowledge, resolve,
annotate, response statistics; and ``/v1/dora``, the four DORA metrics from delivery history."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from edgeplane.config.deploy import parse_duration
from edgeplane.control.routes.auth import Deployer, Reader, control_of
from edgeplane.errors import BadRequest
from edgeplane.observe.dora import dora
from edgeplane.observe.incidents import Incidents

__all__ = ["router"]

router = APIRouter(tags=["incidents"])


class IncidentIn(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    severity: str = Field("SEV3", description="SEV1 (15 min to acknowledge) … SEV4 (24 h)")
    app: str = ""
    env: str = ""
    summary: str = ""


class ResolveIn(BaseModel):
    message: str = ""


class NoteIn(BaseModel):
    text: str = Field(min_length=1)


def _incidents(request: Request) -> Incidents:
    return control_of(request).observe.incidents


def since_of(value: str) -> float:
    """``30d``, ``12h``, ``90m`` … before now, as epoch seconds."""
    try:
        return time.time() - parse_duration(value)
    except ValueError as exc:
        raise BadRequest(f"since: {exc}", code="invalid_duration") from None


@router.get("/v1/incidents")
async def list_incidents(
    request: Request, _: Reader, state: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> dict[str, Any]:
    """Newest first; ``state`` is triggered, acknowledged, resolved or open (not resolved)."""
    return {"incidents": await _incidents(request).list(state or None, limit)}


@router.post("/v1/incidents", status_code=201)
async def open_incident(body: IncidentIn, request: Request, token: Deployer) -> dict[str, Any]:
    """Open an incident by hand (source ``manual``); the token's name is its creator."""
    return await _incidents(request).open(
        body.title, body.severity, actor=token["name"], app=body.app, env=body.env, summary=body.summary
    )


@router.get("/v1/incidents/stats")
async def incident_stats(request: Request, _: Reader, since: str = "30d") -> dict[str, Any]:
    """Per severity and overall: count, open, mean/median MTTA and MTTR, share that met the response target."""
    return await _incidents(request).stats(since_of(since))


@router.get("/v1/incidents/{ref}")
async def show(ref: str, request: Request, _: Reader) -> dict[str, Any]:
    """``ref`` is the number (``12``, ``#12`` URL-encoded) or the id or an id prefix."""
    return await _incidents(request).get(ref)


@router.post("/v1/incidents/{ref}/ack")
async def ack(ref: str, request: Request, token: Deployer) -> dict[str, Any]:
    return await _incidents(request).ack(ref, token["name"])


@router.post("/v1/incidents/{ref}/resolve")
async def resolve(ref: str, request: Request, token: Deployer, body: ResolveIn | None = None) -> dict[str, Any]:
    return await _incidents(request).resolve(ref, token["name"], body.message if body else "")


@router.post("/v1/incidents/{ref}/note")
async def note(ref: str, body: NoteIn, request: Request, token: Deployer) -> dict[str, Any]:
    return await _incidents(request).note(ref, token["name"], body.text)


@router.get("/v1/dora", tags=["dora"])
async def dora_metrics(
    request: Request, _: Reader, app: str | None = None, env: str | None = None, since: str = "30d"
) -> dict[str, Any]:
    """Deployment frequency, lead time (upload → production), change failure rate and time to restore over the
    period, each with its DORA performance band. No ``app``/``env``: every app / every environment."""
    return await dora(control_of(request).store, app or None, env or None, since_of(since), time.time())
