"""An origin whose caching headers the test chooses per request, counting what reaches it.

``/any/path?cc=public,max-age=60&etag=v1&tag=a,b&vary=accept-language&status=200&sleep=0.2&cookie=1``
answers ``<path> #<n>`` (n: how many requests for this path+query reached the origin) with those headers;
``If-None-Match`` equal to ``etag`` gets a 304. ``POST /_fail`` with ``on``/``off`` makes every other request
answer 503 (an origin outage); ``GET /_count?key=/path`` tells how many requests reached the origin for a path.
"""

import asyncio
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

counts: Counter[str] = Counter()
state = {"failing": False}


async def fail(request: Request) -> Response:
    state["failing"] = (await request.body()) == b"on"
    return PlainTextResponse("ok")


async def count(request: Request) -> Response:
    return JSONResponse({"count": counts[request.query_params["key"]]})


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def origin(request: Request) -> Response:
    q = request.query_params
    counts[request.url.path] += 1
    n = counts[request.url.path]
    if q.get("sleep"):
        await asyncio.sleep(float(q["sleep"]))
    if state["failing"]:
        return PlainTextResponse("origin down", status_code=503)
    headers = {}
    if q.get("cc"):
        headers["cache-control"] = q["cc"]
    if q.get("cdn"):
        headers["cdn-cache-control"] = q["cdn"]
    if q.get("ep"):
        headers["edgeplane-cache-control"] = q["ep"]
    if q.get("tag"):
        headers["cache-tag"] = q["tag"]
    if q.get("vary"):
        headers["vary"] = q["vary"]
    if q.get("cookie"):
        headers["set-cookie"] = "session=abc"
    etag = q.get("etag")
    if etag:
        headers["etag"] = f'"{etag}"'
        if request.headers.get("if-none-match") == f'"{etag}"':
            return Response(status_code=304, headers=headers)
    body = f"{request.url.path} #{n} lang={request.headers.get('accept-language', '')}"
    return PlainTextResponse(body, status_code=int(q.get("status", "200")), headers=headers)


app = Starlette(
    routes=[
        Route("/_fail", fail, methods=["POST"]),
        Route("/_count", count),
        Route("/health", health),
        Route("/{path:path}", origin, methods=["GET", "HEAD", "POST"]),
    ]
)
