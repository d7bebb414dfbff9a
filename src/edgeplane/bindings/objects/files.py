"""Objects on local files (the embedded default): blobs on disk, an SQLite index, safe with several processes.

A put streams into a temporary file, fsyncs it, renames it to ``blobs/<version>`` and only then commits the
index row, in one SQLite transaction that also checks the caller's precondition: no reader ever sees a partial
object, and a crash leaves at worst an orphaned temporary file. Readers open the blob the index names; an
overwrite unlinks the old blob, but a reader that already opened it keeps reading the old bytes (POSIX), so a
body always matches the metadata it came with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.objects.base import (
    CHUNK,
    Body,
    ByteRange,
    Fetched,
    Listing,
    ObjectMeta,
    Precondition,
    RangeSpec,
    UploadedPart,
)
from edgeplane.bindings.objects.multipart import check_parts, multipart_etag
from edgeplane.bindings.sqlite_wal import connect_shared

__all__ = ["TYPE", "Backend", "from_config"]

TYPE = "files"
SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    uploaded REAL NOT NULL,
    http TEXT NOT NULL,
    custom TEXT NOT NULL,
    checksums TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    http TEXT NOT NULL,
    custom TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
"""
COLUMNS = "key, version, size, etag, uploaded, http, custom, checksums"
T = TypeVar("T")


def _meta(row: tuple[Any, ...]) -> ObjectMeta:
    return ObjectMeta(
        key=row[0], version=row[1], size=row[2], etag=row[3], uploaded=row[4],
        http_metadata=json.loads(row[5]), custom_metadata=json.loads(row[6]), checksums=json.loads(row[7]),
    )  # fmt: skip


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _now() -> float:
    return round(time.time(), 3)


class Backend:
    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("blobs", "tmp", "uploads"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"r2-{root.name}")
        self._io = ThreadPoolExecutor(4, thread_name_prefix=f"r2-io-{root.name}")
        self._conn = connect_shared(root / "index.sqlite3")
        self._conn.executescript(SCHEMA)

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def _file(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    def _blob(self, version: str) -> Path:
        return self.root / "blobs" / version[:2] / version

    # reads

    def _row(self, key: str) -> ObjectMeta | None:
        row = self._conn.execute(f"SELECT {COLUMNS} FROM objects WHERE key = ?", (key,)).fetchone()
        return _meta(row) if row else None

    async def head(self, key: str) -> ObjectMeta | None:
        return await self._db(self._row, key)

    def _open(self, key: str) -> tuple[ObjectMeta, BinaryIO] | None:
        for _ in range(5):  # an overwrite may unlink the blob between reading the row and opening it
            meta = self._row(key)
            if meta is None:
                return None
            try:
                return meta, open(self._blob(meta.version), "rb")
            except FileNotFoundError:
                continue
        raise BindingError(f"object {key!r} keeps changing; try again", code="R2_CONFLICT")

    async def get(self, key: str, range: RangeSpec | None) -> Fetched | None:
        opened = await self._db(self._open, key)
        if opened is None:
            return None
        meta, handle = opened
        try:
            resolved = range.resolve(meta.size) if range is not None else ByteRange(0, meta.size)
        except BaseException:
            handle.close()
            raise
        return Fetched(meta, self._read(handle, resolved.offset, resolved.length), resolved, handle.close)

    async def _read(self, handle: BinaryIO, offset: int, length: int) -> AsyncIterator[bytes]:
        try:
            remaining = length
            while remaining > 0:
                chunk = await self._file(os.pread, handle.fileno(), min(CHUNK, remaining), offset)
                if not chunk:
                    break
                offset += len(chunk)
                remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    # writes

    async def _spool(self, body: AsyncIterator[bytes]) -> Path:
        """Write ``body`` to a new temporary file and fsync it; removed again if anything fails."""
        path = self.root / "tmp" / uuid.uuid4().hex
        handle = await self._file(open, path, "wb")
        try:
            async for chunk in body:
                await self._file(handle.write, chunk)
            await self._file(handle.flush)
            await self._file(os.fsync, handle.fileno())
        except BaseException:
            handle.close()
            path.unlink(missing_ok=True)
            raise
        handle.close()
        return path

    def _commit(
        self, meta: ObjectMeta, spooled: Path, precondition: Precondition | None, also: Callable[[], None] | None = None
    ) -> bool:
        """Make ``spooled`` the object ``meta`` describes, in one transaction with ``also`` (which may raise)."""
        blob = self._blob(meta.version)
        blob.parent.mkdir(exist_ok=True)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if also is not None:
                also()
            current = self._row(meta.key)
            if precondition is not None and not precondition(current):
                conn.execute("ROLLBACK")
                spooled.unlink(missing_ok=True)
                return False
            os.rename(spooled, blob)
            conn.execute(
                f"INSERT OR REPLACE INTO objects ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (meta.key, meta.version, meta.size, meta.etag, meta.uploaded, _dumps(meta.http_metadata),
                 _dumps(meta.custom_metadata), _dumps(meta.checksums)),
            )  # fmt: skip
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            blob.unlink(missing_ok=True)
            spooled.unlink(missing_ok=True)
            raise
        if current is not None:
            self._blob(current.version).unlink(missing_ok=True)
        return True

    async def put(
        self,
        key: str,
        body: Body,
        http_metadata: dict[str, str],
        custom_metadata: dict[str, str],
        precondition: Precondition | None,
    ) -> ObjectMeta | None:
        spooled = await self._spool(aiter(body))
        meta = ObjectMeta(
            key=key, version=uuid.uuid4().hex, size=body.size, etag=body.digests["md5"], uploaded=_now(),
            http_metadata=http_metadata, custom_metadata=custom_metadata, checksums=body.digests,
        )  # fmt: skip
        committed = await self._db(self._commit, meta, spooled, precondition)
        return meta if committed else None

    def _delete(self, keys: list[str]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = []
            for key in keys:
                row = conn.execute("DELETE FROM objects WHERE key = ? RETURNING version", (key,)).fetchone()
                if row:
                    found.append(row[0])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        for version in found:
            self._blob(version).unlink(missing_ok=True)

    async def delete(self, keys: list[str]) -> None:
        await self._db(self._delete, keys)

    def _list(self, prefix: str, delimiter: str | None, after: str | None, limit: int) -> Listing:
        conn = self._conn
        objects: list[ObjectMeta] = []
        prefixes: list[str] = []
        lower, inclusive = (after, False) if after is not None and after >= prefix else (prefix, True)
        while len(objects) + len(prefixes) < limit + 1:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM objects WHERE (key > ? OR (? AND key = ?)) AND substr(key, 1, ?) = ? "
                "ORDER BY key LIMIT 1",
                (lower, inclusive, lower, len(prefix), prefix),
            ).fetchone()
            if row is None:
                break
            key: str = row[0]
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = key[: cut + len(delimiter or "")]
                prefixes.append(common)
                lower, inclusive = common + "\U0010ffff", False  # past every key under this prefix
            else:
                objects.append(_meta(row))
                lower, inclusive = key, False
            if not delimiter:  # the plain case: take the rest of the page in one query
                rows = conn.execute(
                    f"SELECT {COLUMNS} FROM objects WHERE key > ? AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
                    (key, len(prefix), prefix, limit - len(objects) + 1),
                ).fetchall()
                objects.extend(_meta(r) for r in rows)
                break
        entries = sorted([(m.key, m) for m in objects] + [(p, None) for p in prefixes], key=lambda e: e[0])
        truncated = len(entries) > limit
        entries = entries[:limit]
        return Listing(
            objects=[m for _, m in entries if m is not None],
            delimited_prefixes=[k for k, m in entries if m is None],
            truncated=truncated,
            last=entries[-1][0] if entries else None,
        )

    async def listing(
        self, prefix: str, delimiter: str | None, after: str | None, limit: int, include_metadata: bool
    ) -> Listing:
        return await self._db(self._list, prefix, delimiter, after, limit)

    # multipart

    def _create(self, upload_id: str, key: str, http: dict[str, str], custom: dict[str, str]) -> None:
        self._conn.execute(
            "INSERT INTO uploads (upload_id, key, http, custom, created) VALUES (?, ?, ?, ?, ?)",
            (upload_id, key, _dumps(http), _dumps(custom), time.time()),
        )

    async def create_multipart(self, key: str, http_metadata: dict[str, str], custom_metadata: dict[str, str]) -> str:
        upload_id = uuid.uuid4().hex
        (self.root / "uploads" / upload_id).mkdir()
        await self._db(self._create, upload_id, key, http_metadata, custom_metadata)
        return upload_id

    def _upload(self, key: str, upload_id: str) -> tuple[Any, ...]:
        row = self._conn.execute(
            "SELECT http, custom FROM uploads WHERE upload_id = ? AND key = ?", (upload_id, key)
        ).fetchone()
        if row is None:
            raise BindingError(
                f"multipart upload {upload_id!r} of {key!r} does not exist (completed, aborted or never created)",
                code="R2_NO_SUCH_UPLOAD",
            )
        return tuple(row)

    def _add_part(self, key: str, upload_id: str, part_number: int, spooled: Path, etag: str, size: int) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._upload(key, upload_id)
            os.rename(spooled, self.root / "uploads" / upload_id / str(part_number))
            conn.execute(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, etag, size) VALUES (?, ?, ?, ?)",
                (upload_id, part_number, etag, size),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            spooled.unlink(missing_ok=True)
            raise

    async def upload_part(self, key: str, upload_id: str, part_number: int, body: Body) -> str:
        await self._db(self._upload, key, upload_id)
        spooled = await self._spool(aiter(body))
        etag = body.digests["md5"]
        await self._db(self._add_part, key, upload_id, part_number, spooled, etag, body.size)
        return etag

    def _stored_parts(self, upload_id: str) -> dict[int, tuple[str, int]]:
        rows = self._conn.execute("SELECT part_number, etag, size FROM parts WHERE upload_id = ?", (upload_id,))
        return {r[0]: (r[1], r[2]) for r in rows}

    def _concatenate(self, upload_id: str, numbers: list[int]) -> Path:
        path = self.root / "tmp" / uuid.uuid4().hex
        try:
            with open(path, "wb") as out:
                for number in numbers:
                    with open(self.root / "uploads" / upload_id / str(number), "rb") as part:
                        shutil.copyfileobj(part, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    def _finish(self, meta: ObjectMeta, spooled: Path, upload_id: str) -> None:
        def consume_upload() -> None:
            deleted = self._conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,)).rowcount
            if not deleted:
                raise BindingError(
                    f"multipart upload {upload_id!r} was completed or aborted meanwhile", code="R2_NO_SUCH_UPLOAD"
                )
            self._conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))

        self._commit(meta, spooled, None, consume_upload)
        shutil.rmtree(self.root / "uploads" / upload_id, ignore_errors=True)

    async def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> ObjectMeta:
        http, custom = await self._db(self._upload, key, upload_id)
        stored = await self._db(self._stored_parts, upload_id)
        numbers = check_parts(parts, stored)
        spooled = await self._file(self._concatenate, upload_id, numbers)
        meta = ObjectMeta(
            key=key, version=uuid.uuid4().hex, size=sum(stored[n][1] for n in numbers),
            etag=multipart_etag([stored[n][0] for n in numbers]), uploaded=_now(),
            http_metadata=json.loads(http), custom_metadata=json.loads(custom), checksums={},
        )  # fmt: skip
        await self._db(self._finish, meta, spooled, upload_id)
        return meta

    def _abort(self, key: str, upload_id: str) -> None:
        """As R2: aborting an upload that is finished, aborted or unknown is not an error."""
        self._conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        self._conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        await self._db(self._abort, key, upload_id)
        shutil.rmtree(self.root / "uploads" / upload_id, ignore_errors=True)

    async def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._io.shutdown(wait=True)
        self._conn.close()


def from_config(bucket_name: str, data_dir: Path, url: str | None, options: dict[str, Any]) -> Backend:
    """``url`` may name the directory (``file:///path``); default ``<data_dir>/r2/<bucket_name>``."""
    root = Path(url.removeprefix("file://")) if url else data_dir / "r2" / bucket_name
    return Backend(root)
