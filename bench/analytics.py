"""Analytics benchmark: edgeplane's Analytics Engine path next to plain DuckDB doing the same work, in one run.

    .venv/bin/python bench/analytics.py                 # 1M points ingested, queries over 10M points
    .venv/bin/python bench/analytics.py --points 200000 --query-points 1000000 --rounds 1   # quick

Ingest (targets: ≥ 200k points/s on one core, no loss):
  write     `write_data_point` + the worker-side flushes to spool files (one process, one core)
  ingest    the platform's pass: spool files -> DuckDB table, exactly-once bookkeeping (DuckDB threads = 1)
  end-to-end  write + ingest back to back on one core
  plain DuckDB  `INSERT … SELECT FROM read_json(same files)` into a fresh table (threads = 1)
Query (target ≤ 200 ms): p95 latency + error rate over the last day of a 10M-point dataset, through the SQL API
path (translation, checks, JSON rows) vs plain DuckDB running the equivalent SQL on the same table.
Medians of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from edgeplane.bindings.analytics import AnalyticsDataset, open_store, spool_dir
from edgeplane.bindings.analytics.duckdb_engine import INGEST_SELECT, SPOOL_COLUMNS, TABLE_COLUMNS

QUERY = """
SELECT quantileWeighted(0.95, double1, _sample_interval) AS p95_ms,
       sumIf(_sample_interval, double2 >= 500) / sum(_sample_interval) AS error_rate,
       sum(_sample_interval) AS requests
FROM requests WHERE timestamp > now() - INTERVAL '1' DAY
"""
PLAIN = """
SELECT reservoir_quantile(double1, 0.95) AS p95_ms,
       sum(CASE WHEN double2 >= 500 THEN _sample_interval ELSE 0 END) / sum(_sample_interval) AS error_rate,
       sum(_sample_interval) AS requests
FROM requests WHERE timestamp > now() - INTERVAL '1' DAY
"""


async def write_points(root: Path, points: int) -> float:
    """Seconds to write ``points`` through the worker API, in an event loop with the background flusher, as
    in a worker (yielding to the loop every 1000 points, as request handlers would), until ``close()``."""
    writer = AnalyticsDataset("requests", spool_dir(root))
    paths = ["/api/evaluate", "/api/prompts/templates", "/health", "/api/user/preferences"]
    started = time.perf_counter()
    for i in range(points):
        writer.write_data_point(
            blobs=[paths[i & 3], "GET", "US", "v1"], doubles=[float(i % 997), 500.0 if i % 50 == 0 else 200.0],
            indexes=["prompt-lab"],
        )  # fmt: skip
        if i % 1000 == 999:
            await asyncio.sleep(0)
    await writer.close()
    return time.perf_counter() - started


async def ingest(root: Path) -> tuple[float, int]:
    store = open_store(root, threads=1)
    await asyncio.to_thread(store.engine.start)
    started = time.perf_counter()
    await store.drain()
    elapsed = time.perf_counter() - started
    added = store.points_ingested
    await asyncio.to_thread(store.engine.close)
    return elapsed, added


def plain_ingest(files: list[Path], db: Path) -> float:
    con = duckdb.connect(str(db), config={"threads": 1})
    con.execute(f"CREATE TABLE requests ({TABLE_COLUMNS})")
    started = time.perf_counter()
    con.execute(f"INSERT INTO requests SELECT {INGEST_SELECT} FROM read_json(?, columns = {SPOOL_COLUMNS}, "
                "format = 'newline_delimited')", [[str(f) for f in files]])  # fmt: skip
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def ingest_round(points: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="edgeplane-ae-") as tmp:
        root = Path(tmp)
        write_s = asyncio.run(write_points(root, points))
        copies = Path(tmp) / "copies"
        shutil.copytree(spool_dir(root) / "requests", copies)
        ingest_s, added = asyncio.run(ingest(root))
        assert added == points, f"lost points: wrote {points}, ingested {added}"
        plain_s = plain_ingest(sorted(copies.glob("*.jsonl")), Path(tmp) / "plain.duckdb")
    return {"write": points / write_s, "ingest": points / ingest_s, "end-to-end": points / (write_s + ingest_s),
            "plain DuckDB read_json": points / plain_s}  # fmt: skip


async def query_round(root: Path, points: int, repeats: int) -> tuple[float, float, dict[str, object]]:
    store = open_store(root)
    await store.start()
    con = store.engine.con  # type: ignore[attr-defined]
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'requests'").fetchone()[0]:
        con.execute(f"CREATE TABLE requests ({TABLE_COLUMNS})")
        con.execute(
            "INSERT INTO requests (timestamp, index1, " + ", ".join(f"blob{i}" for i in range(1, 21)) + ", "
            + ", ".join(f"double{i}" for i in range(1, 21)) + ", _sample_interval) "
            "SELECT now() - to_microseconds(i * 8640), 'prompt-lab', "
            "['/api/evaluate', '/health', '/api/prompts/templates'][i % 3 + 1], 'GET', 'US', "
            + ", ".join("''" for _ in range(17)) + ", "
            "(i % 997)::DOUBLE, CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END, "
            + ", ".join("0" for _ in range(18)) + ", 1 FROM range(?) t(i)",
            [points],
        )  # fmt: skip
    ours, plain = [], []
    answer: dict[str, object] = {}
    for _ in range(repeats):
        started = time.perf_counter()
        answer = (await store.query(QUERY))["data"][0]
        ours.append((time.perf_counter() - started) * 1000)
        cursor = con.cursor()
        started = time.perf_counter()
        cursor.execute(PLAIN).fetchall()
        plain.append((time.perf_counter() - started) * 1000)
        cursor.close()
    await store.close()
    return statistics.median(ours), statistics.median(plain), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000, help="points written and ingested per round")
    parser.add_argument("--query-points", type=int, default=10_000_000, help="points in the queried dataset")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    args = parser.parse_args()

    rates: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, rate in ingest_round(args.points).items():
            rates.setdefault(name, []).append(rate)
    print(f"ingest: {args.points:,} points per round, medians of {args.rounds} rounds (one core each)")
    med = {name: statistics.median(v) for name, v in rates.items()}
    for name, rate in med.items():
        print(f"  {name:24} {rate:12,.0f} points/s")
    print(
        f"  ratio ingest / plain DuckDB: x{med['ingest'] / med['plain DuckDB read_json']:.2f}; "
        f"end-to-end {med['end-to-end']:,.0f} points/s (target ≥ 200,000)"
    )

    with tempfile.TemporaryDirectory(prefix="edgeplane-aeq-") as tmp:
        ours, plain, answer = asyncio.run(query_round(Path(tmp), args.query_points, max(5, args.rounds * 3)))
    print(f"query: p95 + error rate over {args.query_points:,} points, median of {max(5, args.rounds * 3)} runs")
    print(f"  edgeplane SQL API path {ours:8.1f} ms   plain DuckDB {plain:8.1f} ms   ratio x{ours / plain:.2f}"
          f"   (target ≤ 200 ms)   answer {answer}")  # fmt: skip


if __name__ == "__main__":
    main()
