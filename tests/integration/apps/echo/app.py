"""A test worker that answers what it was sent: its request headers, a chosen status, or after a chosen delay."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def headers(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.headers))


async def status(request: Request) -> PlainTextResponse:
    code = int(request.path_params["code"])
    return PlainTextResponse(f"status {code}", status_code=code)


async def slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(int(request.path_params["ms"]) / 1000)
    return PlainTextResponse("slow")


async def ok(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/headers", headers),
        Route("/status/{code:int}", status),
        Route("/slow/{ms:int}", slow),
        Route("/{rest:path}", ok),
    ]
)
