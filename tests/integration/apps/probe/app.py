"""A test worker: tells which process/version/env served, and can crash on demand."""

from __future__ import annotations

import asyncio
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from edgeplane.worker import ctx_of, env_of, info_of

AFTER: list[str] = []


async def whoami(request: Request) -> JSONResponse:
    info = info_of(request)
    env = env_of(request)
    return JSONResponse(
        {
            "pid": os.getpid(),
            "version": info.version_id,
            "env": info.environment,
            "label": env.get("LABEL"),
            "vars": {k: v for k, v in env.items() if isinstance(v, str | int | float | bool)},
            "bindings": sorted(k for k, v in env.items() if not isinstance(v, str | int | float | bool)),
            "request_id": info.request_id,
            "client_ip": info.client_ip,
            "colo": info.colo,
            "country": info.country,
            "path": request.url.path,
            "query": request.url.query,
            "host": request.headers.get("host"),
            "after": list(AFTER),
        }
    )


async def crash_if(request: Request) -> JSONResponse:
    if os.getpid() == int(request.path_params["pid"]):
        os._exit(1)
    return JSONResponse({"pid": os.getpid()})


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"length": len(body), "head": body[:16].decode("latin-1")})


async def later(request: Request) -> JSONResponse:
    async def work() -> None:
        await asyncio.sleep(0.05)
        AFTER.append(request.query_params.get("tag", "x"))

    ctx_of(request).wait_until(work())
    return JSONResponse({"scheduled": True})


async def big(request: Request) -> StreamingResponse:
    size = int(request.query_params.get("mb", "8"))

    async def chunks():  # type: ignore[no-untyped-def]
        block = b"x" * (1024 * 1024)
        for _ in range(size):
            yield block

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def kv_item(request: Request) -> JSONResponse:
    store = env_of(request).STORE
    key = request.path_params["key"]
    if request.method == "PUT":
        await store.put(key, await request.body(), metadata={"by": "worker"})
        return JSONResponse({"stored": key})
    result = await store.get_with_metadata(key)
    return JSONResponse({"value": result.value, "metadata": result.metadata})


async def notes(request: Request) -> JSONResponse:
    db = env_of(request).DB
    if request.method == "POST":
        result = await db.prepare("INSERT INTO notes (body) VALUES (?)").bind((await request.body()).decode()).run()
        return JSONResponse({"id": result.meta["last_row_id"]})
    rows = await db.prepare("SELECT id, body FROM notes ORDER BY id").all()
    return JSONResponse({"notes": rows.results})


async def r2_object(request: Request) -> Response:
    bucket = env_of(request).FILES
    key = request.path_params["key"]
    if request.method == "PUT":  # streamed from the request into the bucket
        stored = await bucket.put(key, request.stream(), http_metadata={"content_type": "application/octet-stream"})
        return JSONResponse({"etag": stored.etag, "size": stored.size})
    obj = await bucket.get(key)
    if obj is None:
        return JSONResponse({"missing": key}, status_code=404)
    return StreamingResponse(obj.body, headers={"etag": obj.http_etag})


async def analytics_points(request: Request) -> JSONResponse:
    events = env_of(request).EVENTS
    n = int(request.query_params.get("n", "1"))
    for i in range(n):
        events.write_data_point(blobs=[request.query_params.get("tag", "t")], doubles=[i], indexes=["probe"])
    return JSONResponse({"written": n})


async def health(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/whoami", whoami),
        Route("/r2/{key:path}", r2_object, methods=["GET", "PUT"]),
        Route("/ae", analytics_points, methods=["POST"]),
        Route("/api/{rest:path}", whoami),
        Route("/crash-if/{pid}", crash_if, methods=["GET", "POST"]),
        Route("/echo", echo, methods=["POST", "PUT"]),
        Route("/later", later),
        Route("/big", big),
        Route("/health", health),
        Route("/kv/{key:path}", kv_item, methods=["GET", "PUT"]),
        Route("/notes", notes, methods=["GET", "POST"]),
    ]
)
