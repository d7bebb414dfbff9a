"""A test worker whose failures are set by vars: ERROR_RATE (share of 500s), DELAY_MS (added latency) and
HEALTH_FAIL_AFTER (seconds after start when /health starts answering 500)."""

from __future__ import annotations

import asyncio
import random
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from edgeplane.worker import env_of

STARTED = time.monotonic()


async def home(request: Request) -> PlainTextResponse:
    env = env_of(request)
    delay = float(env.get("DELAY_MS", 0))
    if delay:
        await asyncio.sleep(delay / 1000)
    if random.random() < float(env.get("ERROR_RATE", 0)):
        return PlainTextResponse("injected failure", status_code=500)
    return PlainTextResponse(str(env.get("LABEL")))


async def health(request: Request) -> PlainTextResponse:
    after = float(env_of(request).get("HEALTH_FAIL_AFTER", 0))
    if after and time.monotonic() - STARTED > after:
        return PlainTextResponse("unhealthy", status_code=500)
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/health", health), Route("/{path:path}", home)])
