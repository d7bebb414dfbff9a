"""Bearer-token dependencies: ``Reader``, ``Deployer``, ``Admin`` (each scope includes the ones below it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Header, Request

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane

__all__ = ["Admin", "Deployer", "Reader", "control_of"]


def control_of(request: Request) -> ControlPlane:
    control: ControlPlane = request.app.state.control
    return control


def _require(scope: str) -> Any:
    async def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return await control_of(request).auth.check(authorization, scope)

    return Depends(check)


Reader = Annotated[dict[str, Any], _require("read")]
Deployer = Annotated[dict[str, Any], _require("deploy")]
Admin = Annotated[dict[str, Any], _require("admin")]
