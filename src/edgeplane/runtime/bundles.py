"""Immutable, content-addressed bundles of a worker directory.

A bundle is a deterministic gzip'd tar (sorted entries, zeroed times and owners), so the same files always
give the same sha256. Bundles are stored once under ``<data_dir>/bundles/<sha256>.tar.gz`` and unpacked
read-only next to it when a version first runs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from edgeplane.errors import BadRequest

__all__ = ["BundleStore", "pack_directory"]

IGNORED_DIRS = {
    ".git",
    ".edgeplane",
    "__pycache__",
    ".venv",
    "venv",
    "node_modules",
    ".mypy_cache",
    ".ruff_cache",
}
IGNORED_SUFFIXES = (".pyc", ".pyo", ".sock")
MAX_BUNDLE_BYTES = 64 * 1024 * 1024


def _files(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS and not d.startswith(".pytest"))
        for name in sorted(filenames):
            if not name.endswith(IGNORED_SUFFIXES):
                out.append(Path(dirpath, name))
    return out


def pack_directory(root: Path) -> bytes:
    """Pack ``root`` into deterministic tar.gz bytes (symlinks are followed, special files skipped)."""
    if not root.is_dir():
        raise BadRequest(f"bundle directory {str(root)!r} does not exist", code="bundle_dir_missing")
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in _files(root):
            if not path.is_file():
                continue
            data = path.read_bytes()
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    for m in members:
        name = Path(m.name)
        if name.is_absolute() or ".." in name.parts or not (m.isfile() or m.isdir()):
            raise BadRequest(
                f"bundle entry {m.name!r} is not allowed (absolute, '..' or a link)", code="bundle_invalid"
            )
    return members


class BundleStore:
    """Bundles on local disk, addressed by sha256."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def archive(self, digest: str) -> Path:
        return self.root / f"{digest}.tar.gz"

    def put(self, data: bytes) -> str:
        """Store bundle bytes (validated as a safe tar.gz) and return their sha256."""
        if len(data) > MAX_BUNDLE_BYTES:
            raise BadRequest(f"bundle is {len(data)} bytes; the limit is {MAX_BUNDLE_BYTES}", code="bundle_too_large")
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                _safe_members(tar)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BadRequest(f"bundle is not a valid tar.gz: {exc}", code="bundle_invalid") from exc
        digest = hashlib.sha256(data).hexdigest()
        target = self.archive(digest)
        if not target.exists():
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        return digest

    def read_file(self, digest: str, name: str) -> bytes | None:
        """One file from a stored bundle, or None if absent."""
        with tarfile.open(self.archive(digest), mode="r:gz") as tar:
            try:
                member = tar.extractfile(name)
            except KeyError:
                return None
            return member.read() if member else None

    def unpack(self, digest: str) -> Path:
        """Unpack once (atomically) and return the directory; later calls reuse it."""
        target = self.root / digest
        if target.is_dir():
            return target
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".unpack-"))
        try:
            with tarfile.open(self.archive(digest), mode="r:gz") as tar:
                tar.extractall(tmp, members=_safe_members(tar), filter="data")
            os.replace(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not target.is_dir():
                raise
        return target
