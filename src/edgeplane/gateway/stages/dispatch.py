"""Stage 5: proxy the request to the chosen version's worker processes (or upstream) over keep-alive.

A request that failed before any response byte arrived is retried once on another healthy process when it is
idempotent and its body was not streamed; a stale keep-alive connection is retried on a fresh one first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from edgeplane.gateway.proxy import Endpoint, UpstreamConnection, UpstreamError
from edgeplane.gateway.responses import send_error
from edgeplane.gateway.stages.limits import BodyTooLarge
from edgeplane.gateway.types import ASGIApp, Message, Receive, RequestContext, Scope, Send

__all__ = ["Dispatch", "DispatchConfig"]

# Hop-by-hop headers (RFC 9110 §7.6.1) plus our own control headers, which clients may not forge.
REQUEST_DROP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade",
     b"content-length", b"proxy-authorization", b"x-forwarded-for", b"x-forwarded-proto",
     b"expect"}  # the gateway's server already answered 100-continue to the client
)  # fmt: skip
# ``date`` is set once by the gateway's server; an upstream's own would be a duplicate.
RESPONSE_DROP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"proxy-connection", b"trailer", b"date"}
)
TRACED_DROP = REQUEST_DROP | {b"traceparent"}  # a traced request gets the gateway's own (observe/tracing.py)
NO_BODY_DROP = RESPONSE_DROP | {b"content-length"}  # 204/304 carry no body, whatever their length says
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

log = logging.getLogger("edgeplane.gateway")


@dataclass(frozen=True)
class DispatchConfig:
    colo: str = "local"
    upstream_timeout: float = 60.0
    """Seconds to wait for response headers before answering 504."""


class _Failed(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Dispatch:
    def __init__(self, app: ASGIApp | None, config: DispatchConfig) -> None:
        self.colo = config.colo.encode()
        self.timeout = config.upstream_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx: RequestContext = scope["edgeplane"]
        try:
            first = await receive()
            if first["type"] == "http.disconnect":
                ctx.status = 499  # the client left before sending its body: never forward a truncated request
                return
            head, body, streamed = self._request_head(scope, ctx, first)
            ctx.bytes_in = len(body)
            conn, endpoint = await self._exchange(scope, ctx, head, body, streamed, receive)
            if ctx.trace is not None:
                ctx.trace.upstream_headers = time.perf_counter()
        except _Failed as exc:
            # A client that left is its own business; a worker that failed is ours (request fields via extra=).
            level = logging.DEBUG if exc.status == 499 else logging.WARNING
            log.log(level, "%s %s failed: %s (%s)", scope["method"], scope["path"], exc.message, exc.code,
                    extra=ctx.log_fields())  # fmt: skip
            await send_error(send, exc.status, exc.code, exc.message, ctx)
            return
        except BodyTooLarge as exc:
            await send_error(send, 413, "body_too_large", str(exc), ctx)
            return
        await self._respond(conn, endpoint, send, receive, ctx)

    def _request_head(self, scope: Scope, ctx: RequestContext, first: Message) -> tuple[bytes, bytes, bool]:
        body: bytes = first.get("body", b"")
        streamed = bool(first.get("more_body"))
        target = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string")
        base = ctx.version.base_path
        parts = [
            scope["method"].encode(),
            b" ",
            base,
            target,
            b"?" + query if query else b"",
            b" HTTP/1.1\r\n",
        ]
        drop = REQUEST_DROP if ctx.trace is None else TRACED_DROP
        for name, value in scope["headers"]:
            if name in drop or name.startswith(b"edgeplane-"):
                continue
            parts += (name, b": ", value, b"\r\n")
        length = ctx.headers.get(b"content-length")
        if streamed:
            parts.append(b"content-length: " + length + b"\r\n" if length else b"transfer-encoding: chunked\r\n")
        elif body or length is not None or scope["method"] in ("POST", "PUT", "PATCH"):
            parts += (b"content-length: ", str(len(body)).encode(), b"\r\n")
        parts += (
            b"edgeplane-request-id: ", ctx.request_id, b"\r\nedgeplane-client-ip: ", ctx.client_ip,
            b"\r\nedgeplane-colo: ", self.colo, b"\r\nedgeplane-version: ", ctx.version.id_header,
            b"\r\nedgeplane-env: ", ctx.target.env_header, b"\r\nx-forwarded-for: ", ctx.client_ip,
            b"\r\nx-forwarded-proto: ", scope.get("scheme", "http").encode(), b"\r\n",
        )  # fmt: skip
        if ctx.country:
            parts += (b"edgeplane-country: ", ctx.country, b"\r\n")
        if ctx.trace is not None:
            parts += (b"traceparent: ", ctx.trace.traceparent, b"\r\n")
        parts.append(b"\r\n")
        return b"".join(parts), body, streamed

    async def _exchange(
        self, scope: Scope, ctx: RequestContext, head: bytes, body: bytes, streamed: bool, receive: Receive
    ) -> tuple[UpstreamConnection, Endpoint]:
        pool = ctx.version.pool
        endpoint = pool.pick()
        if endpoint is None:
            raise _Failed(503, "no_healthy_worker", f"no healthy worker for version {ctx.version.version_id}")
        retryable = not streamed and scope["method"] in IDEMPOTENT
        head_only = scope["method"] == "HEAD"
        fresh = moved = False
        while True:
            conn: UpstreamConnection | None = None
            reused = False
            try:
                if fresh:
                    conn = await endpoint.connect()
                else:
                    conn, reused = await endpoint.acquire()
                conn.start(head, b"" if streamed else body, head_only=head_only)
                if streamed:
                    await self._stream_body(conn, ctx, body, receive)
                await conn.response_head(self.timeout)
                return conn, endpoint
            except UpstreamError as exc:
                if conn is not None:
                    conn.close()
                endpoint, fresh, moved = self._retry_plan(exc, retryable, reused, moved, pool, endpoint)
            except TimeoutError:
                if conn is not None:
                    conn.close()
                raise _Failed(504, "worker_timeout", f"worker did not answer within {self.timeout:g}s") from None
            except BaseException:
                if conn is not None:
                    conn.close()  # e.g. BodyTooLarge mid-upload: the worker must not wait for the rest
                raise

    @staticmethod
    def _retry_plan(
        exc: UpstreamError, retryable: bool, stale: bool, moved: bool, pool: Any, endpoint: Endpoint
    ) -> tuple[Endpoint, bool, bool]:
        """Where to retry a request that failed before any response byte: (endpoint, fresh, moved), or 502."""
        if exc.received or not retryable:
            raise _Failed(502, "worker_failed", f"worker failed: {exc}")
        if stale:
            return endpoint, True, moved  # a kept-alive connection the peer had closed: try a new one
        if moved:
            raise _Failed(502, "worker_failed", f"worker failed: {exc}")
        pool.mark_failed(endpoint)
        other = pool.pick(exclude=endpoint)
        if other is None:
            raise _Failed(502, "worker_failed", f"worker failed and no other is healthy: {exc}")
        return other, False, True

    async def _stream_body(self, conn: UpstreamConnection, ctx: RequestContext, first: bytes, receive: Receive) -> None:
        chunked = ctx.headers.get(b"content-length") is None
        chunk, more = first, True
        while True:
            if chunk:
                await conn.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if not more:
                break
            message = await receive()
            if message["type"] == "http.disconnect":
                conn.close()
                raise _Failed(499, "client_disconnected", "client went away while sending the body")
            chunk, more = message.get("body", b""), message.get("more_body", False)
            ctx.bytes_in += len(chunk)
        if chunked:
            await conn.write(b"0\r\n\r\n")

    async def _respond(
        self, conn: UpstreamConnection, endpoint: Endpoint, send: Send, receive: Receive, ctx: RequestContext
    ) -> None:
        drop = RESPONSE_DROP if conn.status not in (204, 304) else NO_BODY_DROP
        headers = [(k, v) for k, v in conn.headers if k not in drop]
        headers += ctx.response_headers()
        ctx.status = conn.status
        ok = False
        watcher: asyncio.Future[Message] | None = None
        try:
            await send({"type": "http.response.start", "status": conn.status, "headers": headers})
            while True:
                data, more = await conn.read()
                ctx.bytes_out += len(data)
                await send({"type": "http.response.body", "body": data, "more_body": more})
                if not more:
                    break
                if watcher is None:  # a streamed response: stop reading the worker if the client leaves
                    watcher = asyncio.ensure_future(receive())
                    watcher.add_done_callback(lambda fut: None if fut.cancelled() else conn.close())
            ok = True
        except UpstreamError as exc:
            # The worker or the client went away mid-response; the status is already recorded.
            log.info("response to %s cut short: %s", ctx.request_id.decode(), exc, extra=ctx.log_fields())
            return
        finally:
            if watcher is not None:
                watcher.cancel()
            if ok:
                endpoint.release(conn)
            else:
                with contextlib.suppress(Exception):
                    conn.close()
