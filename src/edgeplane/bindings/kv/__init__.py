"""Workers KV: ``KVNamespace`` over a backend chosen by config (``backend = "sqlite" | "redis"``)."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.kv.base import KVBackend, ListedKey, ListPage, StoredValue
from edgeplane.bindings.kv.namespace import KVNamespace, KVResult

__all__ = [
    "BACKENDS",
    "KVBackend",
    "KVNamespace",
    "KVResult",
    "ListPage",
    "ListedKey",
    "StoredValue",
    "open_backend",
    "open_namespace",
]

BACKENDS = {"sqlite": "edgeplane.bindings.kv.sqlite", "redis": "edgeplane.bindings.kv.redis"}
"""Backend name -> module exporting ``TYPE``, ``Backend`` and ``from_config``; imported only when used."""


def open_backend(backend: str, namespace_id: str, data_dir: Path, url: str | None) -> KVBackend:
    module_name = BACKENDS.get(backend)
    if module_name is None:
        raise BindingError(
            f"unknown KV backend {backend!r}; choose one of {sorted(BACKENDS)}", code="KV_BACKEND_UNKNOWN"
        )
    module = importlib.import_module(module_name)
    backend_obj: KVBackend = module.from_config(namespace_id, data_dir, url)
    return backend_obj


def open_namespace(
    backend: str, namespace_id: str, data_dir: Path, url: str | None = None, clock: Callable[[], float] = time.time
) -> KVNamespace:
    return KVNamespace(open_backend(backend, namespace_id, data_dir, url), clock=clock)
