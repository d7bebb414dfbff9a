"""Workers KV: ``KVNamespace`` over a backend chosen by config (``backend = "sqlite" | "redis"``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from edgeplane.bindings.kv.base import KVBackend, ListedKey, ListPage, StoredValue
from edgeplane.bindings.kv.namespace import KVNamespace, KVResult
from edgeplane.bindings.registry import load_backend

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
    module = load_backend(BACKENDS, backend, "KV_BACKEND_UNKNOWN", "KV")
    backend_obj: KVBackend = module.from_config(namespace_id, data_dir, url)
    return backend_obj


def open_namespace(
    backend: str, namespace_id: str, data_dir: Path, url: str | None = None, clock: Callable[[], float] = time.time
) -> KVNamespace:
    return KVNamespace(open_backend(backend, namespace_id, data_dir, url), clock=clock)
