"""Error types with stable codes, shared by the admin API, the gateway, the CLI and workers."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "ConfigError",
    "Conflict",
    "EdgeplaneError",
    "Forbidden",
    "NotFound",
    "Unauthorized",
    "WorkerStartError",
]


class EdgeplaneError(Exception):
    """Base error: ``code`` is stable and machine-readable, ``message`` is for people."""

    code = "error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class BadRequest(EdgeplaneError):
    code = "invalid_request"
    status = 400


class Unauthorized(EdgeplaneError):
    code = "unauthorized"
    status = 401


class Forbidden(EdgeplaneError):
    code = "forbidden"
    status = 403


class NotFound(EdgeplaneError):
    code = "not_found"
    status = 404


class Conflict(EdgeplaneError):
    code = "conflict"
    status = 409


class ConfigError(EdgeplaneError):
    """A configuration file is wrong: the message names the file, the key and the fix."""

    code = "config_invalid"
    status = 400


class WorkerStartError(EdgeplaneError):
    """A version's worker processes did not become healthy; ``details['stderr']`` holds their output."""

    code = "worker_start_failed"
    status = 422
