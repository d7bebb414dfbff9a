"""The gateway's HTTP/1.1 protocol: uvicorn's httptools protocol with the hit path (gateway/hits.py) in front.

When a request's head is complete and nothing is in flight on the connection, a GET or HEAD is offered to the
hit path; the response it returns is written at once, with the headers uvicorn would add (``date``,
``connection: close`` when the connection ends). Everything else (and every request the hit path declines)
goes through uvicorn's ASGI cycle unchanged. Pipelined requests keep their order: the hit path is only tried
when no earlier response is pending, and not while the client is not reading (the write buffer is full).

Per request, uvicorn builds its ASGI scope when the message begins and arms a keep-alive timer when the response
ends; a hit needs neither, so the scope is built only for requests that take the ASGI path, and a connection
answered by hits keeps one timer that re-arms itself while data keeps coming or a response is on its way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from edgeplane.gateway.hits import HitPath
from edgeplane.gateway.types import RequestContext

__all__ = ["GatewayProtocol"]

log = logging.getLogger("edgeplane.gateway")
BODYLESS = (b"GET", b"HEAD")


class GatewayProtocol(HttpToolsProtocol):
    hits: HitPath
    """Set on the class ``serving`` makes for one gateway."""

    def __init__(
        self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.answered: bool | None = None
        """Set when the hit path answered the current request: whether the connection stays open."""
        self.last_active = 0.0
        """Loop time of the last data received or hit answered (the keep-alive timer counts from it)."""
        self.hit_timer = False
        """Whether the keep-alive timer is ours: armed by a hit, re-arming itself while the connection is used."""
        self.keep_timer = False
        self.declined: RequestContext | None = None
        """The context the hit path made for the request it declined (the regular path carries on with it)."""

    @classmethod
    def serving(cls, hits: HitPath) -> type[GatewayProtocol]:
        """The protocol class (uvicorn's ``http=``) of the gateway whose hit path is ``hits``."""
        return type(cls.__name__, (cls,), {"hits": hits})

    # -- parser callbacks -----------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def on_headers_complete(self) -> None:
        if (self.cycle is None or self.cycle.response_complete) and not self.pipeline and not self.flow.write_paused:
            self._try_hit()
            if self.answered is not None:
                return
        self.scope = {  # what uvicorn's on_message_begin makes
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,  # type: ignore[typeddict-item]
            "root_path": self.root_path,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }
        if self.declined is not None:
            self.scope["edgeplane"] = self.declined  # type: ignore[typeddict-unknown-key]
            self.declined = None
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.answered is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.answered is None:
            super().on_message_complete()
            return
        keep_alive, self.answered = self.answered, None
        self.server_state.total_requests += 1
        if not keep_alive:
            self.transport.close()
            return
        self.flow.resume_reading()
        self.last_active = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
        self.hit_timer = True

    # -- the hit path ---------------------------------------------------------------------------------------
    def _try_hit(self) -> None:
        parser = self.parser
        method = parser.get_method()
        if method not in BODYLESS or self.expect_100_continue or parser.should_upgrade():
            return
        try:
            answer = self.hits.answer(method, self.url, self.headers, self.client)
        except Exception:  # a bug: never a 400 from the parser's callback; the regular path answers instead
            self.hits.failures += 1
            if self.hits.failures == 1:
                log.exception("the hit path failed (the regular path answers; later failures are only counted)")
            return
        if answer is None:
            return
        if isinstance(answer, RequestContext):  # declined: what it learnt goes on with the request
            self.declined = answer
            return
        status, head, body = answer
        keep_alive = parser.should_keep_alive() and parser.get_http_version() != "1.0"
        date = self._date()
        end = b"\r\n" if keep_alive else b"connection: close\r\n\r\n"
        self.transport.write(b"".join((STATUS_LINE[status], date, head, end, body)))
        self.answered = keep_alive

    _date_of: tuple[Any, bytes] = (None, b"")

    def _date(self) -> bytes:
        """The server's default header lines (``date``), serialized once per second (uvicorn replaces the list)."""
        headers = self.server_state.default_headers
        of, lines = GatewayProtocol._date_of
        if of is not headers:
            lines = b"".join(b"%s: %s\r\n" % header for header in headers)
            GatewayProtocol._date_of = (headers, lines)
        return lines

    # -- keep-alive -------------------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self.last_active = self.loop.time()
        self.keep_timer = self.hit_timer  # cancelling and re-arming the timer would cost every hit
        super().data_received(data)

    def _unset_keepalive_if_required(self) -> None:
        if self.keep_timer:  # once, for data_received: the timer checks the last activity when it fires
            self.keep_timer = False
            return
        super()._unset_keepalive_if_required()

    def timeout_keep_alive_handler(self) -> None:
        self.timeout_keep_alive_task = None
        if self.transport.is_closing():
            return
        wait = float(self.timeout_keep_alive)
        if self.cycle is None or self.cycle.response_complete:  # else a response is on its way: wait in full
            wait -= self.loop.time() - self.last_active
        if wait > 0:
            self.timeout_keep_alive_task = self.loop.call_later(wait, self.timeout_keep_alive_handler)
            return
        self.transport.close()
