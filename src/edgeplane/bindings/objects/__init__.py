"""R2-style object storage: ``R2Bucket`` over a backend chosen by config (``backend = "files" | "s3"``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeplane.bindings.objects.base import ObjectBackend, ObjectMeta, UploadedPart
from edgeplane.bindings.objects.bucket import R2Bucket, R2MultipartUpload, R2Object, R2ObjectBody, R2Objects
from edgeplane.bindings.registry import load_backend

__all__ = [
    "BACKENDS",
    "ObjectBackend",
    "ObjectMeta",
    "R2Bucket",
    "R2MultipartUpload",
    "R2Object",
    "R2ObjectBody",
    "R2Objects",
    "UploadedPart",
    "open_bucket",
]

BACKENDS = {"files": "edgeplane.bindings.objects.files", "s3": "edgeplane.bindings.objects.s3"}
"""Backend name -> module exporting ``TYPE``, ``Backend`` and ``from_config``; imported only when used."""


def open_bucket(
    backend: str,
    bucket_name: str,
    data_dir: Path,
    url: str | None = None,
    options: dict[str, Any] | None = None,
    presign: Callable[[str, str, int], str] | None = None,
) -> R2Bucket:
    module = load_backend(BACKENDS, backend, "R2_BACKEND_UNKNOWN", "R2")
    engine: ObjectBackend = module.from_config(bucket_name, data_dir, url, options or {})
    return R2Bucket(engine, presign)
