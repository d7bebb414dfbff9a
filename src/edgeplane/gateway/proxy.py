"""A small HTTP/1.1 keep-alive client for proxying to workers (Unix sockets) and upstreams (TCP).

Why not httpx or aiohttp: the issue that introduced this measured ~225 µs of CPU per request for a plain
uvicorn + aiohttp proxy and found httpx slower still under concurrency; bench/proxy.py measures this client
(with the whole gateway) against NGINX. This client is an ``asyncio.Protocol`` fed straight into httptools'
C parser; a small response that arrives in one read is handed over with no extra task, queue or copy. Large
bodies stream with back-pressure.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import httptools

__all__ = ["Endpoint", "UpstreamConnection", "UpstreamError"]

HIGH_WATER = 256 * 1024
MAX_IDLE = 256
IDLE_SECONDS = 60.0
"""Idle connections older than this are dropped (workers keep them 300 s), so a reused one is rarely stale."""
CONNECT_TIMEOUT = 5.0
FRAMING = frozenset({b"content-length", b"transfer-encoding"})


class UpstreamError(Exception):
    """The upstream connection failed; ``received`` tells whether any response byte arrived."""

    def __init__(self, message: str, *, received: bool) -> None:
        super().__init__(message)
        self.received = received


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection; carries one request/response at a time."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.loop = endpoint.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = False
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.received = False
        self.head_only = False
        self.headers_done = False
        self.interim = False
        self.framed = False
        self.eof_framed = False
        self.idle_since = 0.0
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.read_paused = False
        self.write_paused: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"invalid response from upstream: {exc}", received=True))
            return
        if self.head_only and self.headers_done and not self.complete:
            self.complete = True
            self.parser = httptools.HttpResponseParser(self)
            self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and self.eof_framed and not self.complete and exc is None:
            self.complete = True  # a body without length or chunking ends when the upstream closes
            self.keep_alive = False
            self._wake()
        if not self.complete:
            self._fail(UpstreamError(f"upstream closed the connection ({exc or 'EOF'})", received=self.received))
        if self.write_paused is not None and not self.write_paused.done():
            self.write_paused.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.write_paused is not None and not self.write_paused.done():
            self.write_paused.set_result(None)
        self.write_paused = None

    # -- httptools callbacks -------------------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in FRAMING:
            self.framed = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.interim = True  # 100 Continue / 103 Early Hints: the final response follows
            self.headers = []
            self.framed = False
            return
        self.status = status
        self.keep_alive = self.parser.should_keep_alive()
        self.eof_framed = not (self.framed or self.head_only or status in (204, 304))
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.complete = True
        self._wake()

    # -- request side --------------------------------------------------------------------------------------
    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if self.transport is not None:
            self.transport.close()
        self._wake()

    def start(self, head: bytes, body: bytes, *, head_only: bool) -> None:
        """Send a request head (and body, if complete) and reset response state."""
        self.status = 0
        self.headers = []
        self.chunks.clear()
        self.buffered = 0
        self.complete = self.received = self.headers_done = self.interim = self.eof_framed = self.framed = False
        self.head_only = head_only
        self.error = None
        assert self.transport is not None
        self.transport.write(head + body if body else head)

    async def write(self, data: bytes) -> None:
        """Send more request body (already framed by the caller), respecting the socket's back-pressure."""
        assert self.transport is not None
        if self.closed:
            raise UpstreamError("upstream closed the connection while sending the body", received=self.received)
        self.transport.write(data)
        if self.write_paused is not None:
            await self.write_paused

    async def _wait(self, timeout: float | None) -> None:
        self.waiter = self.loop.create_future()
        handle = self.loop.call_later(timeout, self._timeout) if timeout else None
        try:
            await self.waiter
        finally:
            self.waiter = None
            if handle is not None:
                handle.cancel()

    def _timeout(self) -> None:
        self._fail(TimeoutError("upstream did not answer in time"))

    async def response_head(self, timeout: float | None) -> None:
        """Wait for the status line and headers (raises UpstreamError or TimeoutError)."""
        while not self.headers_done:
            if self.error is not None:
                raise self.error
            await self._wait(timeout)
        if self.error is not None and not self.complete:
            raise self.error

    async def read(self) -> tuple[bytes, bool]:
        """Next body bytes and whether more follow; a body that has fully arrived is returned at once."""
        while True:
            if self.chunks:
                data = self.chunks.popleft() if len(self.chunks) == 1 else b"".join(self.chunks)
                self.chunks.clear()
                self.buffered = 0
                if self.read_paused and self.transport is not None:
                    self.read_paused = False
                    self.transport.resume_reading()
                return data, not self.complete
            if self.complete:
                return b"", False
            if self.error is not None:
                raise self.error
            await self._wait(None)

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and self.error is None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Endpoint:
    """A pool of keep-alive connections to one Unix socket or TCP host:port."""

    def __init__(self, *, unix_path: str | None = None, host: str | None = None, port: int | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.unix_path = unix_path
        self.host = host
        self.port = port
        self.idle: list[UpstreamConnection] = []
        self.in_flight = 0

    def __repr__(self) -> str:
        return f"Endpoint({self.unix_path or f'{self.host}:{self.port}'})"

    async def connect(self) -> UpstreamConnection:
        factory: Any = lambda: UpstreamConnection(self)  # noqa: E731
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                if self.unix_path is not None:
                    _, proto = await self.loop.create_unix_connection(factory, self.unix_path)
                else:
                    _, proto = await self.loop.create_connection(factory, self.host or "127.0.0.1", self.port or 80)
        except TimeoutError:
            raise UpstreamError(
                f"cannot connect to {self}: no answer in {CONNECT_TIMEOUT:g}s", received=False
            ) from None
        except OSError as exc:
            raise UpstreamError(f"cannot connect to {self}: {exc.strerror or exc}", received=False) from exc
        conn: UpstreamConnection = proto
        return conn

    async def acquire(self) -> tuple[UpstreamConnection, bool]:
        """A connection and whether it was reused (a reused one may have been closed by the peer meanwhile)."""
        idle = self.idle
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_SECONDS:
                return conn, True
            conn.close()
        return await self.connect(), False

    def release(self, conn: UpstreamConnection) -> None:
        if conn.reusable() and len(self.idle) < MAX_IDLE:
            conn.idle_since = self.loop.time()
            self.idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()
