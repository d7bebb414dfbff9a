"""Stage: presigned object URLs (``/.edgeplane/r2/…``), answered by the gateway itself with no worker.

Sits before ``limits``: an upload through a presigned PUT may be as large as R2 allows for one put (5 GiB),
streamed into the bucket, never held in memory. GET honours ``Range`` and the conditional headers
(``If-None-Match`` → 304, ``If-Match`` → 412) the way the bucket's ``get`` does.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote

import orjson

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.objects.bucket import R2Bucket, R2ObjectBody, http_metadata_from_headers
from edgeplane.bindings.objects.presign import PREFIX, binding_key, signature
from edgeplane.errors import EdgeplaneError
from edgeplane.gateway.responses import send_error
from edgeplane.gateway.types import ASGIApp, Receive, RequestContext, Scope, Send

__all__ = ["PresignedObjects"]

Resolve = Callable[[str, str, str], Awaitable[R2Bucket]]
CONDITIONAL = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")


class PresignedObjects:
    def __init__(self, app: ASGIApp, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.clock = clock
        self.resolve: Resolve | None = None
        """Set by the platform: (app, env, binding) -> the bucket, as the control plane opens it."""
        self.secret: Callable[[], bytes] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        ctx: RequestContext = scope["edgeplane"]
        try:
            await self._serve(scope, receive, send, ctx)
        except BindingError as exc:
            status = 416 if exc.code == "R2_INVALID_RANGE" else exc.status
            await send_error(send, status, exc.code, str(exc), ctx)
        except EdgeplaneError as exc:
            await send_error(send, exc.status, exc.code, str(exc), ctx)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")  # percent-decoded once, below
        parts = raw[len(PREFIX) :].split("/", 3)
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}
        if len(parts) != 4 or not parts[3] or not {"method", "expires", "signature"} <= set(query):
            await send_error(send, 404, "not_found", "not a presigned object URL", ctx)
            return
        app, env, binding = (unquote(p) for p in parts[:3])
        key = unquote(parts[3].partition("?")[0])
        method = query["method"]
        if not query["expires"].isdigit():
            await send_error(send, 403, "presign_invalid", "the URL's expiry is not a number", ctx)
            return
        expires = int(query["expires"])
        if self.secret is None or self.resolve is None:
            await send_error(send, 503, "presign_unavailable", "presigned URLs are not served here", ctx)
            return
        expected = signature(binding_key(self.secret(), app, env, binding), method, app, env, binding, key, expires)
        if not hmac.compare_digest(expected, query["signature"]):
            await send_error(send, 403, "presign_invalid", "the URL's signature does not match", ctx)
            return
        if expires < self.clock():
            await send_error(send, 403, "presign_expired", "the URL has expired; ask for a new one", ctx)
            return
        allowed = ("GET", "HEAD") if method == "GET" else (method,)
        if scope["method"] not in allowed:
            await send_error(send, 405, "method_not_allowed", f"this URL allows {' and '.join(allowed)} only", ctx)
            return
        bucket = await self.resolve(app, env, binding)
        if method == "PUT":
            await self._put(bucket, key, scope, receive, send, ctx)
        else:
            await self._get(bucket, key, scope, send, ctx)

    async def _get(self, bucket: R2Bucket, key: str, scope: Scope, send: Send, ctx: RequestContext) -> None:
        headers = ctx.headers
        only_if = {name: headers[name.encode()].decode("latin-1") for name in CONDITIONAL if name.encode() in headers}
        requested = headers.get(b"range")
        obj = await bucket.get(key, range=requested.decode("latin-1") if requested else None, only_if=only_if or None)
        if obj is None:
            await send_error(send, 404, "R2_NO_SUCH_KEY", f"no object {key!r}", ctx)
            return
        out: dict[str, str] = {}
        obj.write_http_metadata(out)
        out |= {"etag": obj.http_etag, "last-modified": format_datetime(obj.uploaded, usegmt=True),
                "accept-ranges": "bytes"}  # fmt: skip
        if not isinstance(obj, R2ObjectBody):  # a condition failed
            status = 304 if ("if-none-match" in only_if or "if-modified-since" in only_if) else 412
            await self._start(send, ctx, status, out, 0, body=status == 412)
            await send({"type": "http.response.body", "body": b""})
            return
        assert obj.range is not None
        offset, length = obj.range["offset"], obj.range["length"]
        status = 200
        if requested and (offset, length) != (0, obj.size):
            status = 206
            out["content-range"] = f"bytes {offset}-{offset + length - 1}/{obj.size}"
        await self._start(send, ctx, status, out, length)
        if scope["method"] == "HEAD":
            obj.close()
            await send({"type": "http.response.body", "body": b""})
            return
        async for chunk in obj.body:
            ctx.bytes_out += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _put(
        self, bucket: R2Bucket, key: str, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
    ) -> None:
        http = http_metadata_from_headers({k.decode("latin-1"): v.decode("latin-1") for k, v in ctx.headers.items()})

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise BindingError("the client went away mid-upload; nothing was written", code="R2_UPLOAD_ABORTED")
                yield message.get("body", b"")
                if not message.get("more_body"):
                    return

        obj = await bucket.put(key, body(), http_metadata=http)
        assert obj is not None
        payload = orjson.dumps({"key": obj.key, "etag": obj.etag, "size": obj.size, "version": obj.version})
        await self._start(send, ctx, 200, {"content-type": "application/json", "etag": obj.http_etag}, len(payload))
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    async def _start(
        send: Send, ctx: RequestContext, status: int, headers: dict[str, str], length: int, body: bool = True
    ) -> None:
        ctx.status = status
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if body:
            raw.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw + ctx.response_headers()})
