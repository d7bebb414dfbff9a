"""Fixtures for the conformance suites live in tests/conftest.py (real servers on 127.0.0.1)."""

from tests.conftest import FakeClock

__all__ = ["FakeClock"]
