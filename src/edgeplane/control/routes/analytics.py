"""``/v1/analytics``: SQL over Analytics Engine datasets (``edgeplane analytics query``), shaped like
Cloudflare's SQL API: POST the query as the body, get ``{"meta", "data", "rows", …}`` back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from edgeplane.bindings.errors import BindingError
from edgeplane.control.routes.auth import Reader, control_of

__all__ = ["router"]

router = APIRouter(tags=["analytics"])


SQL_BODY = {"requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}}


@router.post("/v1/analytics/sql", openapi_extra=SQL_BODY)
async def query(
    request: Request, _: Reader,
    timeout: Annotated[float, Query(gt=0, le=300)] = 30.0, max_rows: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> dict[str, Any]:  # fmt: skip
    """Run one SELECT (Cloudflare's dialect: quantileWeighted, toStartOfInterval, intDiv, …; see the docs)."""
    text = (await request.body()).decode("utf-8", "replace").strip()
    if not text:
        raise BindingError("send the SQL query as the request body", code="AE_SQL_ERROR")
    return await control_of(request).analytics.query(text, timeout=timeout, max_rows=max_rows)


@router.get("/v1/analytics/datasets")
async def datasets(request: Request, _: Reader) -> dict[str, Any]:
    """Every dataset with points, its point count and time span."""
    return {"datasets": await control_of(request).analytics.datasets()}
