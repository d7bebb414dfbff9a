"""The admin API (FastAPI): everything the CLI does. Every ``/v1`` endpoint needs a bearer token."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from edgeplane import __version__
from edgeplane.control.service import ControlPlane
from edgeplane.delivery.splits import Split
from edgeplane.errors import EdgeplaneError, NotFound

__all__ = ["create_admin_app"]

log = logging.getLogger("edgeplane.admin")


class SplitIn(BaseModel):
    version: str = Field(description="vN, tag, id or id prefix")
    percentage: float = 100.0


class DeployIn(BaseModel):
    env: str = "production"
    splits: list[SplitIn] = Field(min_length=1)
    message: str = ""


class RollbackIn(BaseModel):
    env: str = "production"
    version: str | None = None
    message: str = ""


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = ["read"]


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(EdgeplaneError)
    async def _edgeplane(_: Request, exc: EdgeplaneError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        body = {"error": {"code": "invalid_request", "message": "; ".join(problems)}}
        return JSONResponse(body, status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code)

    @api.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("admin API error")
        body = {"error": {"code": "internal", "message": "internal error; see the server log"}}
        return JSONResponse(body, status_code=500)


def _require(scope: str) -> Any:
    async def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        control: ControlPlane = request.app.state.control
        return await control.auth.check(authorization, scope)

    return Depends(check)


Reader = Annotated[dict[str, Any], _require("read")]
Deployer = Annotated[dict[str, Any], _require("deploy")]
Admin = Annotated[dict[str, Any], _require("admin")]


def create_admin_app(control: ControlPlane) -> FastAPI:
    api = FastAPI(title="edgeplane admin API", version=__version__)
    api.state.control = control
    _install_error_handlers(api)

    @api.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        """Liveness without details (no token needed); details are under /v1/status."""
        return {"status": "healthy"}

    @api.get("/v1/status", tags=["health"])
    async def status(_: Reader) -> dict[str, Any]:
        return {"version": __version__, "pools": control.runtime.status()}

    @api.get("/v1/apps", tags=["versions"])
    async def apps(_: Reader) -> dict[str, Any]:
        return {"apps": await control.store.list_apps()}

    @api.post(
        "/v1/apps/{app}/versions",
        status_code=201,
        tags=["versions"],
        openapi_extra={"requestBody": {"content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}}},
    )
    async def upload(
        app: str,
        request: Request,
        token: Deployer,
        message: str = "",
        tag: str | None = None,
        author: str | None = None,
    ) -> dict[str, Any]:
        """Upload a bundle (the tar.gz made by ``edgeplane versions upload``) as a new immutable version."""
        data = await request.body()
        return await control.upload(app, data, message=message, tag=tag, actor=author or token["name"])

    @api.get("/v1/apps/{app}/versions", tags=["versions"])
    async def versions(app: str, _: Reader) -> dict[str, Any]:
        return {"versions": await control.store.list_versions(app)}

    @api.get("/v1/apps/{app}/versions/{ref}", tags=["versions"])
    async def version(app: str, ref: str, _: Reader) -> dict[str, Any]:
        return await control.resolve(app, ref)

    @api.post("/v1/apps/{app}/deployments", status_code=201, tags=["deployments"])
    async def deploy(app: str, body: DeployIn, token: Deployer) -> dict[str, Any]:
        """Make versions serve an environment: one at 100%, or a split whose percentages sum to 100."""
        splits = [Split(s.version, s.percentage) for s in body.splits]
        return await control.deploy(app, body.env, splits, message=body.message, actor=token["name"])

    @api.get("/v1/apps/{app}/deployments", tags=["deployments"])
    async def deployments(
        app: str, _: Reader, env: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 20
    ) -> dict[str, Any]:
        return {"deployments": await control.store.list_deployments(app, env, limit)}

    @api.get("/v1/apps/{app}/deployments/status", tags=["deployments"])
    async def deployment_status(app: str, _: Reader, env: str = "production") -> dict[str, Any]:
        return await control.status(app, env)

    @api.post("/v1/apps/{app}/rollback", status_code=201, tags=["deployments"])
    async def rollback(app: str, body: RollbackIn, token: Deployer) -> dict[str, Any]:
        """Back to the previous fully-deployed version (or ``version``); instant when that version is warm."""
        return await control.rollback(app, body.env, body.version, message=body.message, actor=token["name"])

    @api.get("/v1/tokens", tags=["tokens"])
    async def list_tokens(_: Admin) -> dict[str, Any]:
        return {"tokens": await control.store.list_tokens()}

    @api.post("/v1/tokens", status_code=201, tags=["tokens"])
    async def create_token(body: TokenIn, token: Admin) -> dict[str, Any]:
        """Create a token; its secret is in this response only."""
        secret, record = await control.auth.create(body.name, body.scopes, token["name"])
        return {**record, "token": secret}

    @api.delete("/v1/tokens/{token_id}", tags=["tokens"])
    async def revoke_token(token_id: str, token: Admin) -> dict[str, Any]:
        if not await control.auth.revoke(token_id, token["name"]):
            raise NotFound("no such active token", code="token_not_found")
        return {"revoked": token_id}

    @api.get("/v1/audit", tags=["audit"])
    async def audit_log(_: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        return {"entries": await control.store.list_audit(limit)}

    return api
