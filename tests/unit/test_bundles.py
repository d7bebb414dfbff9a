from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from edgeplane.errors import BadRequest
from edgeplane.runtime.bundles import BundleStore, pack_directory


def project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "edgeplane.toml").write_text('name = "a"\nmain = "app.py"\n')
    (root / "app.py").write_text("app = None\n")
    (root / "pkg" / "mod.py").write_text("X = 1\n")
    for junk in (".git", "__pycache__", ".edgeplane"):
        (root / junk).mkdir()
        (root / junk / "x").write_text("junk")
    return root


def test_pack_is_deterministic_and_content_addressed(tmp_path: Path) -> None:
    a = pack_directory(project(tmp_path / "a"))
    b_root = project(tmp_path / "b")
    os.utime(b_root / "app.py", (1, 1))
    assert a == pack_directory(b_root)
    (b_root / "app.py").write_text("app = 1\n")
    assert hashlib.sha256(a).digest() != hashlib.sha256(pack_directory(b_root)).digest()


def test_store_unpacks_once_and_skips_junk(tmp_path: Path) -> None:
    store = BundleStore(tmp_path / "bundles")
    data = pack_directory(project(tmp_path / "p"))
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest() and store.put(data) == digest
    root = store.unpack(digest)
    assert store.unpack(digest) == root
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "app.py", "edgeplane.toml", "pkg/mod.py",
    ]  # fmt: skip
    assert store.read_file(digest, "edgeplane.toml") == b'name = "a"\nmain = "app.py"\n'
    assert store.read_file(digest, "nope") is None


def test_missing_directory_and_corrupt_bundle(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="does not exist"):
        pack_directory(tmp_path / "missing")
    with pytest.raises(BadRequest, match=r"not a valid tar\.gz"):
        BundleStore(tmp_path / "b").put(b"\x1f\x8b garbage")
