"""The request as edge policies read it (``EdgeRequest``), built on first use and kept on the context."""

from __future__ import annotations

from edgeplane.edge.request import EdgeRequest
from edgeplane.gateway.types import RequestContext, Scope

__all__ = ["edge_request"]


def edge_request(scope: Scope, ctx: RequestContext) -> EdgeRequest:
    view: EdgeRequest | None = ctx.view
    if view is None:
        view = ctx.view = EdgeRequest(
            scope["method"], ctx.host, scope["path"], scope.get("query_string", b""), ctx.headers,
            scope["headers"], ctx.client_ip.decode("latin-1"), ctx.country.decode("latin-1").upper(),
        )  # fmt: skip
    return view
