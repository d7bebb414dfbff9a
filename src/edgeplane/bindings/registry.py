"""Loading a backend module by name: each binding kind keeps a ``BACKENDS`` map of name -> module path.

Modules are imported only when chosen, so a backend's driver (redis, boto3, duckdb…) is needed only if used.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from edgeplane.bindings.errors import BindingError

__all__ = ["load_backend"]


def load_backend(backends: dict[str, str], name: str, code: str, kind: str) -> ModuleType:
    """The module of backend ``name`` (exporting ``TYPE``, ``Backend``, ``from_config``), or BindingError."""
    module_name = backends.get(name)
    if module_name is None:
        raise BindingError(f"unknown {kind} backend {name!r}; choose one of {sorted(backends)}", code=code)
    return importlib.import_module(module_name)
