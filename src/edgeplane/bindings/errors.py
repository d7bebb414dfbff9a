"""Binding errors: stable upper-case codes (as the bindings spec names them), raised to workers and the CLI."""

from __future__ import annotations

from edgeplane.errors import EdgeplaneError

__all__ = ["BackendUnavailable", "BindingError"]


class BindingError(EdgeplaneError):
    """A binding call was refused: a limit, a wrong type, bad input. Nothing was written."""

    code = "BINDING_ERROR"
    status = 400


class BackendUnavailable(BindingError):
    """The backend (Redis, S3, …) could not be reached; nothing was written."""

    code = "BACKEND_UNAVAILABLE"
    status = 503
