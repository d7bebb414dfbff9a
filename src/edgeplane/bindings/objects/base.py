"""The object-store backend protocol: what every backend (local files, S3, …) implements.

Backends store bytes plus an ``ObjectMeta`` and know nothing of R2's limits, conditionals or checksums beyond
md5: ``R2Bucket`` validates first and hands backends a checked, normalised request. Bodies move as async
iterators of chunks, never as one ``bytes``, so a 1 GiB object is never held in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from edgeplane.bindings.errors import BindingError

__all__ = [
    "CHUNK",
    "Body",
    "ByteRange",
    "Fetched",
    "Listing",
    "ObjectBackend",
    "ObjectMeta",
    "Precondition",
    "RangeSpec",
    "UploadedPart",
]

CHUNK = 256 * 1024
"""Size of the chunks bodies are read and written in."""


class Body:
    """An upload's chunks, hashed on the way through: md5 always (the etag), plus any algorithm the caller
    gave an expected digest for. At the end of the stream the digests are compared, so a mismatch raises
    before a backend commits anything; ``max_size`` is enforced as bytes arrive."""

    def __init__(self, chunks: AsyncIterator[bytes], expected: dict[str, str], max_size: int) -> None:
        self._chunks = chunks
        self.expected = expected
        self.max_size = max_size
        self.size = 0
        self._hashers = {"md5": hashlib.md5(usedforsecurity=False)}
        for algorithm in expected:
            self._hashers.setdefault(algorithm, hashlib.new(algorithm))
        self.digests: dict[str, str] = {}

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        hashers = self._hashers.values()
        async for chunk in self._chunks:
            if not chunk:
                continue
            self.size += len(chunk)
            if self.size > self.max_size:
                raise BindingError(
                    f"object is larger than {self.max_size} bytes; use a multipart upload",
                    code="R2_OBJECT_TOO_LARGE",
                )
            for hasher in hashers:
                hasher.update(chunk)
            yield chunk
        self.digests = {name: h.hexdigest() for name, h in self._hashers.items()}
        for algorithm, want in self.expected.items():
            if self.digests[algorithm] != want:
                raise BindingError(
                    f"put: the {algorithm.upper()} checksum you specified did not match what we received "
                    f"(expected {want}, received {self.digests[algorithm]})",
                    code="R2_CHECKSUM_MISMATCH",
                )


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    key: str
    version: str
    size: int
    etag: str
    """Hex md5 for a simple upload; ``<hex md5 of the part md5s>-<parts>`` for a multipart one (as S3 and R2)."""
    uploaded: float
    """Epoch seconds, millisecond precision."""
    http_metadata: dict[str, str] = field(default_factory=dict)
    custom_metadata: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    """Hex digests by algorithm (``md5``, ``sha1``, ``sha256``, ``sha384``, ``sha512``)."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    """A resolved byte range: ``length`` bytes from ``offset`` (both within the object)."""

    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class RangeSpec:
    """A requested range: ``offset``/``length`` or the last ``suffix`` bytes. ``lenient`` (a ``Range``
    header's) serves the whole object when the range cannot be satisfied, as HTTP servers and R2 do."""

    offset: int | None = None
    length: int | None = None
    suffix: int | None = None
    lenient: bool = False

    def resolve(self, size: int) -> ByteRange:
        """The bytes to read of an object of ``size`` bytes; R2_INVALID_RANGE if none can be (as R2: an
        offset at or past the end, a zero length or suffix, any range of an empty object)."""
        offset = self.offset or 0
        if self.suffix is not None:
            offset, length = max(size - self.suffix, 0), min(self.suffix, size)
        else:
            length = size - offset if self.length is None else min(self.length, size - offset)
        if offset >= size or length <= 0 or self.suffix == 0:
            if self.lenient:
                return ByteRange(0, size)
            raise BindingError(
                f"range {self.describe()} cannot be satisfied: the object has {size} bytes", code="R2_INVALID_RANGE"
            )
        return ByteRange(offset, length)

    def describe(self) -> str:
        if self.suffix is not None:
            return f"suffix={self.suffix}"
        return f"offset={self.offset or 0}" + (f" length={self.length}" if self.length is not None else "")

    def header(self) -> str | None:
        """As an HTTP ``Range`` value; None when it cannot be one (a zero length or suffix)."""
        if self.suffix is not None:
            return f"bytes=-{self.suffix}" if self.suffix else None
        if self.length == 0:
            return None
        offset = self.offset or 0
        return f"bytes={offset}-" if self.length is None else f"bytes={offset}-{offset + self.length - 1}"


@dataclass(slots=True)
class Fetched:
    """A ``get``: the metadata (read in the same step as the body, so they match) and the body's chunks."""

    meta: ObjectMeta
    body: AsyncIterator[bytes]
    range: ByteRange
    close: Callable[[], Any]


@dataclass(frozen=True, slots=True)
class Listing:
    objects: list[ObjectMeta]
    delimited_prefixes: list[str]
    truncated: bool
    last: str | None
    """The last key or prefix of this page: the next page starts after it."""


@dataclass(frozen=True, slots=True)
class UploadedPart:
    part_number: int
    etag: str


Precondition = Callable[[ObjectMeta | None], bool]
"""Checked against the current object just before a write commits; False means write nothing."""


class ObjectBackend(Protocol):
    async def head(self, key: str) -> ObjectMeta | None: ...

    async def get(self, key: str, range: RangeSpec | None) -> Fetched | None: ...

    async def put(
        self,
        key: str,
        body: Body,
        http_metadata: dict[str, str],
        custom_metadata: dict[str, str],
        precondition: Precondition | None,
    ) -> ObjectMeta | None:
        """Store ``body`` (read to its end before anything becomes visible; its ``digests`` are then the
        checksums to keep). Returns None, writing nothing, when ``precondition`` fails."""
        ...

    async def delete(self, keys: list[str]) -> None: ...

    async def listing(
        self, prefix: str, delimiter: str | None, after: str | None, limit: int, include_metadata: bool
    ) -> Listing:
        """Up to ``limit`` entries (objects and delimited prefixes together) after ``after``, in UTF-8 byte
        order of key."""
        ...

    async def create_multipart(self, key: str, http_metadata: dict[str, str], custom_metadata: dict[str, str]) -> str:
        """A new upload id."""
        ...

    async def upload_part(self, key: str, upload_id: str, part_number: int, body: Body) -> str:
        """Store one part; its etag."""
        ...

    async def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> ObjectMeta: ...

    async def abort_multipart(self, key: str, upload_id: str) -> None: ...

    async def close(self) -> None: ...
