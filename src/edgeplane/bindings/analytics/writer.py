"""``AnalyticsDataset``: Workers Analytics Engine's ``write_data_point`` inside a worker process.

A call validates the point and appends it to an in-memory buffer: it never waits for I/O. A background task
flushes the buffer every ``flush_interval`` seconds (or as soon as ``max_buffer`` points wait) to a spool file
(``<data_dir>/analytics/spool/<dataset>/<pid>-<n>.jsonl``, written under a temporary name and renamed, so the
platform only ever sees whole files). The platform ingests spool files into the analytics store exactly once.

Loss bound: a clean shutdown (SIGTERM) flushes everything. If the worker process is killed, the points not yet
flushed are lost: at most ``flush_interval`` seconds of points, and never more than ``max_buffer`` points.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from edgeplane.bindings.errors import BindingError

__all__ = ["BLOBS_MAX", "BLOB_BYTES_MAX", "DOUBLES_MAX", "INDEX_BYTES_MAX", "AnalyticsDataset"]

BLOBS_MAX = 20
DOUBLES_MAX = 20
INDEXES_MAX = 1
INDEX_BYTES_MAX = 96
BLOB_BYTES_MAX = 16 * 1024
"""Total size of a data point's blobs (Cloudflare's limit)."""
FLUSH_INTERVAL = 0.5
MAX_BUFFER = 10_000
_files = itertools.count()
Trusted = tuple[int, str, Sequence[str], Sequence[float], int]
"""A point of ``write_trusted``: (ms, index, blobs, doubles, sample interval)."""


def _fail(code: str, message: str) -> BindingError:
    return BindingError(message, code=code)


def _text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode()
        except UnicodeDecodeError:
            raise _fail("AE_INVALID_BLOB", f"{what} must be UTF-8 text") from None
    raise _fail("AE_INVALID_BLOB", f"{what} must be str or bytes, got {type(value).__name__}")


def _check_blobs(blobs: Sequence[Any]) -> list[str | None]:
    if len(blobs) > BLOBS_MAX:
        raise _fail("AE_TOO_MANY_BLOBS", f"{len(blobs)} blobs; the limit is {BLOBS_MAX}")
    texts: list[str | None] = []
    chars = 0
    for i, blob in enumerate(blobs):
        text = blob if type(blob) is str else _text(blob, f"blob{i + 1}")
        if text is not None:
            chars += len(text)
        texts.append(text)
    if chars * 4 > BLOB_BYTES_MAX:  # UTF-8 needs at most 4 bytes a character: count exactly only when it matters
        size = sum(len(t.encode()) for t in texts if t)
        if size > BLOB_BYTES_MAX:
            raise _fail("AE_BLOBS_TOO_LARGE", f"blobs total {size} bytes; the limit is {BLOB_BYTES_MAX}")
    return texts


def _check_doubles(doubles: Sequence[Any]) -> Sequence[Any]:
    if len(doubles) > DOUBLES_MAX:
        raise _fail("AE_TOO_MANY_DOUBLES", f"{len(doubles)} doubles; the limit is {DOUBLES_MAX}")
    for i, value in enumerate(doubles):
        kind = type(value)
        if (kind is not float and kind is not int) or value - value != 0:  # not a number, or inf/nan
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                continue  # a subclass of int or float
            raise _fail("AE_INVALID_DOUBLE", f"double{i + 1} must be a finite number, got {value!r}")
    return doubles


def point(
    blobs: Sequence[Any] | None, doubles: Sequence[Any] | None, indexes: Sequence[Any] | None, now: float
) -> bytes:
    """One validated data point as a JSON line."""
    texts = _check_blobs(blobs) if blobs else []
    numbers = _check_doubles(doubles) if doubles else []
    index = None
    if indexes:
        if len(indexes) > INDEXES_MAX:
            raise _fail("AE_TOO_MANY_INDEXES", f"{len(indexes)} indexes; the limit is {INDEXES_MAX}")
        index = _text(indexes[0], "index1")
        if index is not None and len(index.encode()) > INDEX_BYTES_MAX:
            raise _fail("AE_INDEX_TOO_LARGE", f"index1 is {len(index.encode())} bytes; the limit is {INDEX_BYTES_MAX}")
    try:
        return orjson.dumps({"t": int(now * 1000), "i": index, "b": texts, "d": numbers})
    except TypeError as exc:  # e.g. a tuple of doubles holding something orjson cannot write
        raise _fail("AE_INVALID_DOUBLE", f"data point is not serializable: {exc}") from None


class AnalyticsDataset:
    """One dataset bound into a worker's ``env`` (``env.EVENTS.write_data_point(...)``)."""

    def __init__(
        self,
        dataset: str,
        spool_dir: Path,
        *,
        flush_interval: float = FLUSH_INTERVAL,
        max_buffer: int = MAX_BUFFER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dataset = dataset
        self.spool_dir = spool_dir / dataset
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.clock = clock
        self._buffer: list[bytes] = []
        self._trusted: list[Trusted] = []
        self._flusher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self.written = 0

    def write_data_point(
        self,
        *,
        blobs: Sequence[Any] | None = None,
        doubles: Sequence[Any] | None = None,
        indexes: Sequence[Any] | None = None,
    ) -> None:
        """Record a point; returns at once (the point is flushed in the background)."""
        self._buffer.append(point(blobs, doubles, indexes, self.clock()))
        self.written += 1
        if self._flusher is None:
            self._start()
        if len(self._buffer) >= self.max_buffer and self._wake is not None:
            self._wake.set()

    def write_trusted(
        self, blobs: Sequence[str], doubles: Sequence[float], index: str, at: float, sample_interval: int = 1
    ) -> None:
        """Record a point the platform built itself, for the gateway's one point per request: no validation, and
        the point is serialized by the background flush instead of here (about 0.2 µs a call instead of 7).

        The caller guarantees what ``write_data_point`` checks: at most 20 ``str`` blobs of at most 16 KiB
        together, at most 20 finite ``int``/``float`` doubles, an index of at most 96 bytes; ``at`` is the point's
        time (epoch seconds). The sequences are kept until the flush, so they must not change. Never hand it
        values a worker supplied. ``sample_interval`` N says the point stands for N requests (``_sample_interval``
        of the dataset, as in Cloudflare's adaptive sampling)."""
        self._trusted.append((int(at * 1000), index, blobs, doubles, sample_interval))
        self.written += 1
        if self._flusher is None:
            self._start()
        if len(self._trusted) >= self.max_buffer and self._wake is not None:
            self._wake.set()

    def _start(self) -> None:
        loop = asyncio.events._get_running_loop()  # None outside a loop, without the cost of an exception
        if loop is None:
            return  # no loop (a script): flush() or close() writes the buffer
        self._wake = asyncio.Event()
        self._flusher = loop.create_task(self._run())

    async def _run(self) -> None:
        """Flush until ``close()``. Stopped by a flag, not by cancelling: on Python 3.11 a cancel that lands as
        ``wait_for`` times out can be lost, and ``close()`` would wait forever."""
        assert self._wake is not None
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            if self._buffer or self._trusted:
                await asyncio.to_thread(self._write, *self._take())

    def _take(self) -> tuple[list[bytes], list[Trusted]]:
        lines, self._buffer = self._buffer, []
        trusted, self._trusted = self._trusted, []
        return lines, trusted

    def _write(self, lines: list[bytes], trusted: list[Trusted]) -> None:
        """Write one spool file: under a temporary name, then renamed (the platform never sees half a file)."""
        name = f"{os.getpid()}-{time.time_ns()}-{next(_files)}"
        temporary = self.spool_dir / f".{name}.tmp"
        with open(temporary, "wb") as handle:
            if lines:
                handle.write(b"\n".join(lines))
                handle.write(b"\n")
            if trusted:
                # Decoded to str one by one: thousands of orjson's bytes kept alive at once are slow to allocate.
                dumps = orjson.dumps
                text = "\n".join(
                    [dumps({"t": t, "i": i, "b": b, "d": d, "s": s}).decode() for t, i, b, d, s in trusted]
                )
                handle.write(text.encode())
                handle.write(b"\n")
        os.rename(temporary, self.spool_dir / f"{name}.jsonl")

    def flush(self) -> None:
        """Write the buffered points now (synchronously)."""
        if self._buffer or self._trusted:
            self._write(*self._take())

    async def close(self) -> None:
        """Stop the background flusher and write what is left (called on the worker's clean shutdown)."""
        self._closing = True
        if self._flusher is not None and self._wake is not None:
            self._wake.set()
            await self._flusher  # finishes the file it is writing, then sees the flag
            self._flusher = None
        self.flush()
