"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edgeplane.control.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh control store (SQLite, every migration applied)."""
    s = Store(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    await s.init()
    yield s
    await s.close()
