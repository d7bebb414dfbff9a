"""Multipart rules shared by the backends that do not get them from their server (R2's, which are S3's)."""

from __future__ import annotations

import hashlib

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.objects.base import UploadedPart

__all__ = ["MAX_PART_NUMBER", "MIN_PART_SIZE", "check_parts", "multipart_etag"]

MIN_PART_SIZE = 5 * 1024 * 1024
"""Every part but the last must be at least 5 MiB."""
MAX_PART_NUMBER = 10_000


def multipart_etag(part_etags: list[str]) -> str:
    """S3's and R2's etag of a completed multipart object: md5 of the parts' binary md5s, ``-`` part count."""
    digest = hashlib.md5(b"".join(bytes.fromhex(e) for e in part_etags), usedforsecurity=False)
    return f"{digest.hexdigest()}-{len(part_etags)}"


def check_parts(parts: list[UploadedPart], stored: dict[int, tuple[str, int]]) -> list[int]:
    """The part numbers to join, in order; or the error R2 gives for this list of parts."""
    if not parts:
        raise BindingError("complete needs at least one part", code="R2_INVALID_PART")
    numbers = [p.part_number for p in parts]
    if len(set(numbers)) != len(numbers):
        raise BindingError("complete lists a part number twice", code="R2_INVALID_PART")
    numbers.sort()
    for part in parts:
        have = stored.get(part.part_number)
        if have is None or have[0] != part.etag.strip('"'):
            raise BindingError(
                f"part {part.part_number} was not uploaded with etag {part.etag!r}", code="R2_INVALID_PART"
            )
    for number in numbers[:-1]:
        if stored[number][1] < MIN_PART_SIZE:
            raise BindingError(
                f"part {number} is {stored[number][1]} bytes; every part but the last must be at least "
                f"{MIN_PART_SIZE} bytes (5 MiB)",
                code="R2_ENTITY_TOO_SMALL",
            )
    sizes = [stored[n][1] for n in numbers]
    if len(set(sizes[:-1])) > 1 or (len(sizes) > 1 and sizes[-1] > sizes[0]):
        raise BindingError(
            f"part sizes {sizes}: R2 needs every part but the last to be the same size, and the last no larger",
            code="R2_UNEQUAL_PARTS",
        )
    return numbers
