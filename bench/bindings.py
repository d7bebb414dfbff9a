"""Bindings benchmark: edgeplane's KV binding next to the raw client doing the same work, in one run.

    .venv/bin/python bench/bindings.py            # needs redis-server on PATH (make test-deps installs it)

Prints p50/p99 per call (µs) for KV ``get`` (hit) on the SQLite backend vs raw ``sqlite3``, and on the Redis
backend vs raw redis-py, then the overhead ratios last. Targets: SQLite get p50 ≤ 20 µs, ratio ≤ 1.5x raw.
(Analytics ingest/query figures join this file with the analytics binding.)
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as aioredis

from edgeplane.bindings.kv import open_namespace

KEYS = 1000


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


async def timed(call: Callable[[int], Awaitable[object]], n: int) -> list[int]:
    for i in range(min(n, 2000)):  # warm-up
        await call(i)
    samples = []
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        await call(i)
        samples.append(clock() - start)
    return samples


async def bench_sqlite(root: Path, n: int) -> tuple[list[int], list[int]]:
    kv = open_namespace("sqlite", "bench", root)
    for i in range(KEYS):
        await kv.put(f"key-{i}", f"value-{i}" * 8)
    raw = sqlite3.connect(root / "kv" / "bench.sqlite3")

    async def raw_get(i: int) -> object:
        return raw.execute("SELECT value FROM kv WHERE key = ?", (f"key-{i % KEYS}",)).fetchone()

    async def kv_get(i: int) -> object:
        return await kv.get(f"key-{i % KEYS}")

    ours, theirs = await timed(kv_get, n), await timed(raw_get, n)
    raw.close()
    await kv.close()
    return ours, theirs


async def bench_redis(url: str, root: Path, n: int) -> tuple[list[int], list[int]]:
    kv = open_namespace("redis", "bench", root, url)
    for i in range(KEYS):
        await kv.put(f"key-{i}", f"value-{i}" * 8)
    raw = aioredis.Redis.from_url(url)

    async def raw_get(i: int) -> object:
        return await raw.hget(f"edgeplane:kv:bench:v:key-{i % KEYS}", "v")

    async def kv_get(i: int) -> object:
        return await kv.get(f"key-{i % KEYS}")

    ours, theirs = await timed(kv_get, n), await timed(raw_get, n)
    await raw.aclose()
    await kv.close()
    return ours, theirs


def start_redis(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: run `make test-deps`")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(root)],
                            stdout=subprocess.DEVNULL)  # fmt: skip
    time.sleep(0.3)
    return proc, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50_000, help="timed calls per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeplane-bench-") as tmp:
        root = Path(tmp)
        proc, url = start_redis(root)
        try:
            rows: dict[str, list[tuple[float, float]]] = {}
            for _ in range(args.rounds):
                ours, raw = asyncio.run(bench_sqlite(root / "sqlite", args.calls))
                rows.setdefault("kv sqlite get (hit)", []).append((percentile(ours, 0.5), percentile(ours, 0.99)))
                rows.setdefault("raw sqlite3 get", []).append((percentile(raw, 0.5), percentile(raw, 0.99)))
                ours, raw = asyncio.run(bench_redis(url, root / "redis", args.calls // 5))
                rows.setdefault("kv redis get", []).append((percentile(ours, 0.5), percentile(ours, 0.99)))
                rows.setdefault("raw redis-py hget", []).append((percentile(raw, 0.5), percentile(raw, 0.99)))
        finally:
            proc.terminate()
            proc.wait()
    med = {name: (statistics.median(p for p, _ in v), statistics.median(q for _, q in v)) for name, v in rows.items()}
    print(f"medians of {args.rounds} rounds, {args.calls} calls each (redis: {args.calls // 5})")
    print(f"{'operation':24} {'p50 µs':>8} {'p99 µs':>8}")
    for name, (p50, p99) in med.items():
        print(f"{name:24} {p50:8.1f} {p99:8.1f}")
    sqlite_ratio = med["kv sqlite get (hit)"][0] / med["raw sqlite3 get"][0]
    redis_ratio = med["kv redis get"][0] / med["raw redis-py hget"][0]
    print(f"ratio kv/raw sqlite p50: x{sqlite_ratio:.2f} (target ≤ 1.5; kv p50 {med['kv sqlite get (hit)'][0]:.1f} µs, "
          "target ≤ 20)")  # fmt: skip
    print(f"ratio kv/raw redis  p50: x{redis_ratio:.2f}")


if __name__ == "__main__":
    main()
