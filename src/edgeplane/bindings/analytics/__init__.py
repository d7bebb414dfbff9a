"""Workers Analytics Engine: ``AnalyticsDataset`` in workers, ``AnalyticsStore`` (DuckDB by default) in the
platform, joined by spool files so any number of worker processes can write safely."""

from __future__ import annotations

from pathlib import Path

from edgeplane.bindings.analytics.base import COLUMNS, AnalyticsEngine
from edgeplane.bindings.analytics.ingest import AnalyticsStore
from edgeplane.bindings.analytics.writer import AnalyticsDataset
from edgeplane.bindings.registry import load_backend

__all__ = ["BACKENDS", "COLUMNS", "AnalyticsDataset", "AnalyticsEngine", "AnalyticsStore", "open_dataset_writer",
           "open_store", "spool_dir"]  # fmt: skip

BACKENDS = {"duckdb": "edgeplane.bindings.analytics.duckdb_engine"}
"""Engine name -> module exporting ``TYPE`` and ``Engine``. ClickHouse is the planned distributed engine: it
implements the same ``AnalyticsEngine`` protocol (its SQL is the dialect users already write)."""


def spool_dir(data_dir: Path) -> Path:
    return data_dir / "analytics" / "spool"


def open_dataset_writer(dataset: str, data_dir: Path) -> AnalyticsDataset:
    return AnalyticsDataset(dataset, spool_dir(data_dir))


def open_store(data_dir: Path, backend: str = "duckdb", threads: int | None = None) -> AnalyticsStore:
    module = load_backend(BACKENDS, backend, "AE_BACKEND_UNKNOWN", "analytics")
    engine: AnalyticsEngine = module.Engine(data_dir / "analytics" / "analytics.duckdb", spool_dir(data_dir), threads)
    return AnalyticsStore(engine, spool_dir(data_dir))
