"""``/v1/apps/{app}/rollouts``: progressive delivery (start, status, events, live stream, commands)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from edgeplane.control.rollout_store import ACTIVE_STATES
from edgeplane.control.routes.auth import Deployer, Reader, control_of

__all__ = ["router"]

router = APIRouter(tags=["rollouts"])

STREAM_STATUS_EVERY = 1.0
HEARTBEAT_EVERY = 15.0


class RolloutIn(BaseModel):
    version: str = Field("latest", description="vN, tag, id or id prefix")
    env: str = "production"
    strategy: Literal["canary", "blue-green", "rolling"] | None = Field(None, description="default: [deploy] strategy")
    mode: Literal["shadow", "pause", "auto"] | None = Field(None, description="default: [deploy] mode")
    queue: bool = Field(False, description="wait behind the environment's active rollout instead of refusing")
    message: str = ""


class CommandIn(BaseModel):
    full: bool = Field(False, description="promote: straight to 100% (still stopping at pending approvals)")


@router.post("/v1/apps/{app}/rollouts", status_code=201)
async def create(app: str, body: RolloutIn, request: Request, token: Deployer) -> dict[str, Any]:
    """Start a rollout of ``version`` to ``env`` with the version's ``[deploy]`` strategy (or ``strategy``)."""
    return await control_of(request).rollouts.create(
        app, body.env, body.version, strategy=body.strategy, mode=body.mode, queue=body.queue,
        message=body.message, token=token,
    )  # fmt: skip


@router.get("/v1/apps/{app}/rollouts")
async def list_rollouts(
    app: str, request: Request, _: Reader, env: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> dict[str, Any]:
    control = control_of(request)
    rows = await control.rollouts.records.list_rollouts(app, env, limit)
    keep = ("id", "env", "strategy", "mode", "state", "version_id", "stable_id", "step", "reason", "author")
    out = []
    for r in rows:
        numbers = {
            f"{side}_number": (await control.version(r[f"{side}_id"]))["number"] if r[f"{side}_id"] else None
            for side in ("version", "stable")
        }
        out.append({**{k: r[k] for k in (*keep, "created_at", "finished_at")}, **numbers})
    return {"rollouts": out}


@router.get("/v1/apps/{app}/rollouts/{rollout}")
async def status(app: str, rollout: str, request: Request, _: Reader, env: str | None = None) -> dict[str, Any]:
    """One rollout's stage, weights, time left and each judge's latest verdict with evidence. ``rollout`` is an
    id, an id prefix, or ``current`` (the newest in ``env``)."""
    rollouts = control_of(request).rollouts
    row = await rollouts.find(app, None if rollout == "current" else rollout, env)
    return await rollouts.status(row["id"])


@router.get("/v1/apps/{app}/rollouts/{rollout}/events")
async def events(
    app: str, rollout: str, request: Request, _: Reader, env: str | None = None, after: int = 0
) -> dict[str, Any]:
    """The rollout's history: state changes, verdict changes with evidence, approvals, rollbacks."""
    rollouts = control_of(request).rollouts
    row = await rollouts.find(app, None if rollout == "current" else rollout, env)
    return {"events": await rollouts.records.events(row["id"], after)}


@router.get("/v1/apps/{app}/rollouts/{rollout}/stream")
async def stream(app: str, rollout: str, request: Request, _: Reader, env: str | None = None) -> StreamingResponse:
    """Server-sent events: ``status`` (the same JSON as GET, on change and every second) and ``event`` (each
    history entry as it happens). The stream ends after the rollout's final status."""
    rollouts = control_of(request).rollouts
    row = await rollouts.find(app, None if rollout == "current" else rollout, env)
    rollout_id = row["id"]

    async def frames() -> AsyncIterator[bytes]:
        with rollouts.bus.subscribe() as queue:
            last_event = 0
            for event in await rollouts.records.events(rollout_id):
                last_event = event["id"]
                yield _frame("event", event)
            heartbeat = time.monotonic()
            while True:
                current = await rollouts.status(rollout_id)
                final = current["state"] not in ACTIVE_STATES
                if final and rollout_id in rollouts.runs:  # its last writes are still being committed
                    await asyncio.sleep(0.05)
                    continue
                # Events first, so the final status is never sent before the events that led to it.
                for event in await rollouts.records.events(rollout_id, last_event):
                    last_event = event["id"]
                    yield _frame("event", event)
                yield _frame("status", current)
                if final:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(queue.get(), STREAM_STATUS_EVERY)
                if time.monotonic() - heartbeat > HEARTBEAT_EVERY:
                    heartbeat = time.monotonic()
                    yield b": keep-alive\n\n"
                if await request.is_disconnected():
                    return

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)


def _frame(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n".encode()


@router.post("/v1/apps/{app}/rollouts/{rollout}/{action}")
async def command(
    app: str,
    rollout: str,
    action: Literal["promote", "pause", "resume", "abort", "retry", "approve"],
    request: Request,
    token: Deployer,
    env: str | None = None,
    body: CommandIn | None = None,
) -> dict[str, Any]:
    """``promote`` (next step; ``full``: to 100%), ``pause``, ``resume`` (repeats the current step), ``abort``
    (traffic back to stable), ``retry`` (a failed or aborted rollout from its first step), ``approve``."""
    rollouts = control_of(request).rollouts
    row = await rollouts.find(app, None if rollout == "current" else rollout, env)
    return await rollouts.command(row["id"], action, token, full=bool(body and body.full))
