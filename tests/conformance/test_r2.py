"""The R2 object conformance suite: runs unchanged against every backend (local files, S3 via moto's server)."""

from __future__ import annotations

import asyncio
import hashlib
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from edgeplane.bindings.errors import BackendUnavailable, BindingError
from edgeplane.bindings.objects import R2Bucket, R2Object, R2ObjectBody, open_bucket
from tests.conftest import free_port, make_s3_bucket

BACKENDS = ["files", "s3"]
MiB = 1024 * 1024
CREDENTIALS = {"access_key_id": "test", "secret_access_key": "test"}
Factory = Callable[[], R2Bucket]


@pytest.fixture(params=BACKENDS)
async def bucket_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    """Opens handles on one fresh bucket (two handles act like two worker processes)."""
    backend = request.param
    name = f"b-{uuid.uuid4().hex[:12]}"
    url = None
    if backend == "s3":
        url = request.getfixturevalue("s3_endpoint")
        make_s3_bucket(url, name)
    opened: list[R2Bucket] = []

    def make() -> R2Bucket:
        bucket = open_bucket(backend, name, tmp_path, url, CREDENTIALS)
        opened.append(bucket)
        return bucket

    yield make
    for bucket in opened:
        await bucket.close()


@pytest.fixture
def bucket(bucket_factory: Factory) -> R2Bucket:
    return bucket_factory()


async def fail(code: str, call: object) -> BindingError:
    with pytest.raises(BindingError) as info:
        await call  # type: ignore[misc]
    assert info.value.code == code, info.value
    return info.value


async def test_put_get_head_round_trip(bucket: R2Bucket) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    put = await bucket.put("docs/hello.txt", "hello world", http_metadata={"content_type": "text/plain"},
                           custom_metadata={"Owner": "ada"})  # fmt: skip
    assert put is not None
    assert put.size == 11
    assert put.etag == hashlib.md5(b"hello world").hexdigest()
    assert put.http_etag == f'"{put.etag}"'
    assert put.checksums["md5"] == put.etag
    assert before <= put.uploaded <= datetime.now(UTC) + timedelta(seconds=1)
    assert put.version

    got = await bucket.get("docs/hello.txt")
    assert isinstance(got, R2ObjectBody)
    assert await got.text() == "hello world"
    assert (got.etag, got.version, got.size) == (put.etag, put.version, 11)
    assert got.http_metadata == {"content_type": "text/plain"}
    assert got.custom_metadata == {"Owner": "ada"}  # case kept
    headers: dict[str, str] = {}
    got.write_http_metadata(headers)
    assert headers == {"content-type": "text/plain"}

    assert put.range is None and got.range == {"offset": 0, "length": 11}
    head = await bucket.head("docs/hello.txt")
    assert head is not None and not isinstance(head, R2ObjectBody)
    assert head.range == {"offset": 0, "length": 11}
    assert (head.etag, head.version, head.custom_metadata) == (put.etag, put.version, {"Owner": "ada"})
    assert head.uploaded == put.uploaded


async def test_bytes_json_and_empty_values(bucket: R2Bucket) -> None:
    await bucket.put("b", bytes(range(256)))
    got = await bucket.get("b")
    assert isinstance(got, R2ObjectBody) and await got.bytes() == bytes(range(256))
    await bucket.put("j", '{"a": [1, 2]}')
    got = await bucket.get("j")
    assert isinstance(got, R2ObjectBody) and await got.json() == {"a": [1, 2]}
    empty = await bucket.put("empty", None)
    assert empty is not None and empty.size == 0
    got = await bucket.get("empty")
    assert isinstance(got, R2ObjectBody) and await got.bytes() == b""


async def test_missing_objects(bucket: R2Bucket) -> None:
    assert await bucket.get("nope") is None
    assert await bucket.head("nope") is None
    await bucket.delete("nope")  # not an error


async def test_overwrite_gives_a_new_version_and_two_handles_agree(bucket_factory: Factory) -> None:
    one, two = bucket_factory(), bucket_factory()
    first = await one.put("k", "v1")
    second = await two.put("k", "v2")
    assert first is not None and second is not None and first.version != second.version
    got = await one.get("k")
    assert isinstance(got, R2ObjectBody) and await got.text() == "v2" and got.version == second.version


async def test_limits_refuse_and_write_nothing(bucket: R2Bucket) -> None:
    await fail("R2_KEY_TOO_LONG", bucket.put("k" * 1025, "v"))
    await fail("R2_KEY_TOO_LONG", bucket.get("k" * 1025))
    await fail("R2_INVALID_KEY", bucket.put("", "v"))
    assert (await bucket.put("k" * 1024, "v")) is not None
    await fail("R2_METADATA_TOO_LARGE", bucket.put("m", "v", custom_metadata={"x": "y" * 2048}))
    await fail("R2_INVALID_METADATA", bucket.put("m", "v", http_metadata={"colour": "red"}))
    await fail("R2_INVALID_METADATA", bucket.put("m", "v", custom_metadata={"n": 1}))  # type: ignore[dict-item]
    await fail("R2_INVALID_VALUE", bucket.put("m", 42))
    assert await bucket.head("m") is None


async def test_checksum_mismatch_writes_nothing(bucket: R2Bucket) -> None:
    await bucket.put("c", "original")
    await fail("R2_CHECKSUM_MISMATCH", bucket.put("c", "replacement", md5=hashlib.md5(b"other").hexdigest()))
    got = await bucket.get("c")
    assert isinstance(got, R2ObjectBody) and await got.text() == "original"
    ok = await bucket.put("c", "replacement", sha256=hashlib.sha256(b"replacement").digest())
    assert ok is not None and ok.checksums["sha256"] == hashlib.sha256(b"replacement").hexdigest()
    await fail("R2_INVALID_CHECKSUM", bucket.put("c", "x", md5="aa", sha1="bb"))


async def test_conditional_put(bucket: R2Bucket) -> None:
    created = await bucket.put("lock", "mine", only_if={"etag_does_not_match": "*"})
    assert created is not None
    assert await bucket.put("lock", "theirs", only_if={"etag_does_not_match": "*"}) is None
    assert await bucket.put("lock", "theirs", only_if={"etag_matches": "0" * 32}) is None
    got = await bucket.get("lock")
    assert isinstance(got, R2ObjectBody) and await got.text() == "mine"
    swapped = await bucket.put("lock", "next", only_if={"If-Match": created.http_etag})
    assert swapped is not None
    assert await bucket.put("absent", "x", only_if={"etag_matches": "*"}) is None
    assert await bucket.put("absent", "x", only_if={"uploaded_after": datetime(2000, 1, 1, tzinfo=UTC)}) is None
    assert await bucket.head("absent") is None
    assert await bucket.put("absent", "x", only_if={"uploaded_before": datetime(2000, 1, 1, tzinfo=UTC)})


async def test_conditional_get(bucket: R2Bucket) -> None:
    put = await bucket.put("c", "body")
    assert put is not None
    hit = await bucket.get("c", only_if={"etag_matches": put.etag})
    assert isinstance(hit, R2ObjectBody) and await hit.text() == "body"
    miss = await bucket.get("c", only_if={"etag_matches": "0" * 32}, range={"offset": 1})
    assert isinstance(miss, R2Object) and not isinstance(miss, R2ObjectBody) and miss.etag == put.etag
    assert miss.range == {"offset": 0, "length": 4}
    # If-Match compares strongly, If-None-Match weakly (RFC 9110)
    assert not isinstance(await bucket.get("c", only_if={"If-Match": f'W/"{put.etag}"'}), R2ObjectBody)
    assert not isinstance(await bucket.get("c", only_if={"If-None-Match": f'W/"{put.etag}"'}), R2ObjectBody)
    assert isinstance(await bucket.get("c", only_if={"If-Match": f'"x", "{put.etag}"'}), R2ObjectBody)
    not_modified = await bucket.get("c", only_if={"If-None-Match": put.http_etag})
    assert not isinstance(not_modified, R2ObjectBody)
    later = put.uploaded + timedelta(seconds=5)
    assert not isinstance(await bucket.get("c", only_if={"uploaded_after": later}), R2ObjectBody)
    assert isinstance(await bucket.get("c", only_if={"uploaded_before": later}), R2ObjectBody)
    earlier = put.uploaded - timedelta(seconds=5)
    assert not isinstance(await bucket.get("c", only_if={"uploaded_before": earlier}), R2ObjectBody)
    # the object form is exact to the millisecond and strict both ways
    assert not isinstance(await bucket.get("c", only_if={"uploaded_after": put.uploaded}), R2ObjectBody)
    assert not isinstance(await bucket.get("c", only_if={"uploaded_before": put.uploaded}), R2ObjectBody)
    just_before = put.uploaded - timedelta(milliseconds=1)
    assert isinstance(await bucket.get("c", only_if={"uploaded_after": just_before}), R2ObjectBody)
    # header dates are whole seconds: modified "since" the same second is not modified
    same_second = format_datetime(put.uploaded.replace(microsecond=0), usegmt=True)
    assert not isinstance(await bucket.get("c", only_if={"If-Modified-Since": same_second}), R2ObjectBody)
    assert isinstance(await bucket.get("c", only_if={"If-Unmodified-Since": same_second}), R2ObjectBody)
    assert isinstance(await bucket.get("c", only_if={"If-Modified-Since": "garbage"}), R2ObjectBody)
    # If-Match overrides If-Unmodified-Since (RFC 9110)
    both = await bucket.get("c", only_if={"etag_matches": put.etag, "uploaded_before": earlier})
    assert isinstance(both, R2ObjectBody)
    await fail("R2_INVALID_CONDITION", bucket.get("c", only_if={"etag_maches": "x"}))


async def test_ranges(bucket: R2Bucket) -> None:
    await bucket.put("r", b"0123456789")
    cases = [
        ({"offset": 2, "length": 3}, b"234", {"offset": 2, "length": 3}),
        ({"offset": 7}, b"789", {"offset": 7, "length": 3}),
        ({"length": 2}, b"01", {"offset": 0, "length": 2}),
        ({"suffix": 4}, b"6789", {"offset": 6, "length": 4}),
        ({"offset": 8, "length": 100}, b"89", {"offset": 8, "length": 2}),
        ({"suffix": 20}, b"0123456789", {"offset": 0, "length": 10}),
        ("bytes=1-3", b"123", {"offset": 1, "length": 3}),
        ("bytes=-2", b"89", {"offset": 8, "length": 2}),
        ("bytes=5-", b"56789", {"offset": 5, "length": 5}),
        # a Range header that is not one satisfiable byte range means the whole object, as in R2
        ("bytes=20-30", b"0123456789", {"offset": 0, "length": 10}),
        ("bytes=5-2", b"0123456789", {"offset": 0, "length": 10}),
        ("bytes=0-1,4-5", b"0123456789", {"offset": 0, "length": 10}),
        ("items=0-1", b"0123456789", {"offset": 0, "length": 10}),
    ]
    for spec, body, expected in cases:
        got = await bucket.get("r", range=spec)
        assert isinstance(got, R2ObjectBody), spec
        assert await got.bytes() == body, spec
        assert got.range == expected, spec
        assert got.size == 10
    for bad in ({"offset": 10}, {"offset": 11}, {"length": 0}, {"suffix": 0}, {"suffix": 2, "offset": 1},
                {"offset": -1}):  # fmt: skip
        await fail("R2_INVALID_RANGE", bucket.get("r", range=bad))
    await bucket.put("empty", b"")
    await fail("R2_INVALID_RANGE", bucket.get("empty", range={"offset": 0}))


async def test_delete_one_and_many(bucket: R2Bucket) -> None:
    for name in ("a", "b", "c", "d"):
        await bucket.put(name, name)
    await bucket.delete("a")
    await bucket.delete(["b", "c", "missing"])
    assert [o.key for o in (await bucket.list()).objects] == ["d"]
    await fail("R2_TOO_MANY_KEYS", bucket.delete([f"k{i}" for i in range(1001)]))


async def test_list_order_pages_and_include(bucket: R2Bucket) -> None:
    names = ["b", "a", "A", "a/1", "a/2", "a/10", "é", "z", "ab"]
    for name in names:
        await bucket.put(name, name, http_metadata={"content_type": "text/plain"}, custom_metadata={"n": name})
    everything = await bucket.list()
    assert [o.key for o in everything.objects] == sorted(names, key=lambda n: n.encode())
    assert not everything.truncated and everything.cursor is None
    assert everything.objects[0].custom_metadata == {} and everything.objects[0].http_metadata == {}
    seen: list[str] = []
    cursor = None
    while True:
        page = await bucket.list(limit=4, cursor=cursor)
        seen += [o.key for o in page.objects]
        if not page.truncated:
            break
        assert len(page.objects) == 4 and page.cursor
        cursor = page.cursor
    assert seen == [o.key for o in everything.objects]
    with_meta = await bucket.list(prefix="a/", include=["custom_metadata", "http_metadata"])
    assert [(o.key, o.custom_metadata["n"]) for o in with_meta.objects] == [("a/1", "a/1"), ("a/10", "a/10"),
                                                                           ("a/2", "a/2")]  # fmt: skip
    assert with_meta.objects[0].http_metadata == {"content_type": "text/plain"}
    after = await bucket.list(start_after="a/2")
    assert [o.key for o in after.objects][:2] == ["ab", "b"]
    await fail("R2_INVALID_LIST_LIMIT", bucket.list(limit=0))
    await fail("R2_INVALID_LIST_LIMIT", bucket.list(limit=1001))
    await fail("R2_INVALID_CURSOR", bucket.list(cursor="%%%"))


async def test_list_with_delimiter(bucket: R2Bucket) -> None:
    for name in ("photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/top.jpg", "readme",
                 "videos/x.mp4", "videos/y.mp4"):  # fmt: skip
        await bucket.put(name, "x")
    root = await bucket.list(delimiter="/")
    assert [o.key for o in root.objects] == ["readme"]
    assert root.delimited_prefixes == ["photos/", "videos/"]
    inner = await bucket.list(prefix="photos/", delimiter="/")
    assert [o.key for o in inner.objects] == ["photos/top.jpg"]
    assert inner.delimited_prefixes == ["photos/2024/", "photos/2025/"]
    entries: list[str] = []
    cursor = None
    while True:  # a page holds at most `limit` entries, objects and prefixes together
        page = await bucket.list(delimiter="/", limit=1, cursor=cursor)
        assert len(page.objects) + len(page.delimited_prefixes) == 1
        entries += [o.key for o in page.objects] + page.delimited_prefixes
        if not page.truncated:
            break
        cursor = page.cursor
    assert entries == ["photos/", "readme", "videos/"]


async def test_multipart_upload(bucket: R2Bucket) -> None:
    upload = await bucket.create_multipart_upload(
        "big.bin", http_metadata={"content_type": "application/octet-stream"}, custom_metadata={"kind": "test"}
    )
    first, second, third = b"a" * (5 * MiB), b"b" * (5 * MiB), b"tail"
    part3 = await upload.upload_part(3, third)  # parts may arrive in any order
    part1 = await upload.upload_part(1, first)
    part2 = await upload.upload_part(2, second)
    assert await bucket.head("big.bin") is None  # invisible until complete
    resumed = bucket.resume_multipart_upload("big.bin", upload.upload_id)
    done = await resumed.complete([part2, part3, part1])
    md5s = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in (first, second, third))).hexdigest()
    assert done.etag == f"{md5s}-3"
    assert done.size == len(first) + len(second) + len(third)
    got = await bucket.get("big.bin", range={"suffix": 6})
    assert isinstance(got, R2ObjectBody) and await got.bytes() == b"bbtail"
    across = await bucket.get("big.bin", range={"offset": 5 * MiB - 2, "length": 4})
    assert isinstance(across, R2ObjectBody) and await across.bytes() == b"aabb"
    assert got.custom_metadata == {"kind": "test"}
    assert got.http_metadata == {"content_type": "application/octet-stream"}
    await fail("R2_NO_SUCH_UPLOAD", resumed.complete([part1, part2]))


async def test_multipart_errors(bucket: R2Bucket) -> None:
    upload = await bucket.create_multipart_upload("m")
    await fail("R2_INVALID_PART", upload.upload_part(0, b"x"))
    await fail("R2_INVALID_PART", upload.upload_part(10001, b"x"))
    small1 = await upload.upload_part(1, b"small")
    small2 = await upload.upload_part(2, b"small")
    await fail("R2_ENTITY_TOO_SMALL", upload.complete([small1, small2]))
    missing = type(small1)(3, "0" * 32)
    await fail("R2_INVALID_PART", upload.complete([small1, missing]))
    big = await upload.upload_part(3, b"x" * (5 * MiB))
    bigger = await upload.upload_part(4, b"y" * (5 * MiB + 1))
    await fail("R2_UNEQUAL_PARTS", upload.complete([big, bigger]))  # the last part may not be larger
    await upload.abort()
    await upload.abort()  # aborting twice is not an error, as in R2
    await fail("R2_NO_SUCH_UPLOAD", upload.complete([small1]))
    await fail("R2_NO_SUCH_UPLOAD", upload.upload_part(5, b"x"))
    await fail("R2_NO_SUCH_UPLOAD", bucket.resume_multipart_upload("m", "no-such-upload").upload_part(1, b"x"))
    assert await bucket.head("m") is None


async def _stream(total: int, chunk: int = MiB) -> AsyncIterator[bytes]:
    block = bytes(range(256)) * (chunk // 256)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


async def _stream_round_trip(bucket: R2Bucket, total: int) -> int:
    """Put ``total`` bytes from a generator and read them back; returns the peak traced memory."""
    expected = hashlib.md5(usedforsecurity=False)
    async for piece in _stream(total):
        expected.update(piece)
    tracemalloc.start()
    try:
        put = await bucket.put("stream", _stream(total))
        assert put is not None and put.size == total and put.etag == expected.hexdigest()
        got = await bucket.get("stream")
        assert isinstance(got, R2ObjectBody)
        digest = hashlib.md5(usedforsecurity=False)
        read = 0
        async for chunk in got.body:
            digest.update(chunk)
            read += len(chunk)
        assert read == total and digest.hexdigest() == expected.hexdigest()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_streaming_never_holds_the_object(bucket: R2Bucket) -> None:
    peak = await _stream_round_trip(bucket, 96 * MiB)
    assert peak < 32 * MiB, f"peak {peak / MiB:.1f} MiB for a 96 MiB object"


@pytest.mark.slow
async def test_streaming_one_gib(bucket: R2Bucket) -> None:
    peak = await _stream_round_trip(bucket, 1024 * MiB)
    assert peak < 32 * MiB, f"peak {peak / MiB:.1f} MiB for a 1 GiB object"


async def test_concurrent_reader_sees_whole_versions(bucket_factory: Factory) -> None:
    writer, reader = bucket_factory(), bucket_factory()
    bodies = [bytes([i]) * (512 * 1024) for i in range(6)]
    await writer.put("hot", bodies[0])

    async def write() -> None:
        for body in bodies[1:]:
            await writer.put("hot", body)

    async def read() -> None:
        for _ in range(20):
            got = await reader.get("hot")
            assert isinstance(got, R2ObjectBody)
            data = await got.bytes()
            assert data in bodies and hashlib.md5(data).hexdigest() == got.etag

    await asyncio.gather(write(), read())


async def test_dead_s3_server_is_backend_unavailable(tmp_path: Path) -> None:
    bucket = open_bucket("s3", "nowhere", tmp_path, f"http://127.0.0.1:{free_port()}", CREDENTIALS)
    try:
        with pytest.raises(BackendUnavailable) as info:
            await bucket.put("k", "v")
        assert info.value.code == "BACKEND_UNAVAILABLE"
    finally:
        await bucket.close()
