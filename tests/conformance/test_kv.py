"""The Workers KV conformance suite: runs unchanged against every backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from edgeplane.bindings.errors import BackendUnavailable, BindingError
from edgeplane.bindings.kv import KVNamespace, open_namespace
from tests.conformance.conftest import FakeClock
from tests.conftest import free_port

BACKENDS = ["sqlite", "redis"]
Factory = Callable[[], KVNamespace]


@pytest.fixture(params=BACKENDS)
async def kv_factory(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Factory]:
    """Opens handles on one fresh namespace (two handles act like two worker processes)."""
    backend = request.param
    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    namespace_id = f"ns-{uuid.uuid4().hex[:12]}"
    opened: list[KVNamespace] = []

    def make() -> KVNamespace:
        ns = open_namespace(backend, namespace_id, tmp_path, url, clock=clock)
        opened.append(ns)
        return ns

    yield make
    for ns in opened:
        await ns.close()


@pytest.fixture
def kv(kv_factory: Factory) -> KVNamespace:
    return kv_factory()


async def expect_error(code: str, call: object) -> None:
    with pytest.raises(BindingError) as info:
        await call  # type: ignore[misc]
    assert info.value.code == code


async def test_put_get_types(kv: KVNamespace) -> None:
    assert await kv.get("missing") is None
    await kv.put("text", "héllo")
    await kv.put("bin", b"\x00\xff\x01")
    await kv.put("doc", '{"a": [1, 2]}')
    assert await kv.get("text") == "héllo"
    assert await kv.get("text", type="bytes") == "héllo".encode()
    assert await kv.get("bin", type="bytes") == b"\x00\xff\x01"
    assert await kv.get("doc", type="json") == {"a": [1, 2]}
    await expect_error("KV_INVALID_JSON", kv.get("text", type="json"))
    await expect_error("KV_INVALID_TYPE", kv.get("text", type="arrayBuffer"))  # type: ignore[arg-type]
    await expect_error("KV_INVALID_VALUE", kv.put("x", {"not": "serialized"}))  # type: ignore[arg-type]


async def test_metadata_and_overwrite(kv: KVNamespace) -> None:
    await kv.put("k", "v1", metadata={"owner": "ana", "n": 1})
    result = await kv.get_with_metadata("k")
    assert (result.value, result.metadata) == ("v1", {"owner": "ana", "n": 1})
    await kv.put("k", "v2")
    result = await kv.get_with_metadata("k")
    assert (result.value, result.metadata) == ("v2", None)
    missing = await kv.get_with_metadata("nope")
    assert (missing.value, missing.metadata) == (None, None)


async def test_delete(kv: KVNamespace) -> None:
    await kv.put("k", "v")
    await kv.delete("k")
    await kv.delete("k")  # deleting a missing key is not an error
    assert await kv.get("k") is None
    assert (await kv.list()).keys == []


async def test_expiration(kv: KVNamespace, clock: FakeClock) -> None:
    await kv.put("ttl", "v", expiration_ttl=60)
    await kv.put("abs", "v", expiration=int(clock.now) + 120, metadata={"m": 1})
    await kv.put("forever", "v")
    listed = {k.name: k for k in (await kv.list()).keys}
    assert listed["ttl"].expiration == int(clock.now) + 60
    assert listed["abs"].expiration == int(clock.now) + 120 and listed["abs"].metadata == {"m": 1}
    assert listed["forever"].expiration is None
    clock.advance(59)
    assert await kv.get("ttl") == "v"
    clock.advance(1)  # expiry is exclusive: at the expiration second the key is gone
    assert await kv.get("ttl") is None
    assert [k.name for k in (await kv.list()).keys] == ["abs", "forever"]
    clock.advance(60)
    assert await kv.get("abs") is None and (await kv.get_with_metadata("abs")).metadata is None
    assert [k.name for k in (await kv.list()).keys] == ["forever"]
    await kv.put("ttl", "again")  # an expired key can be written again, without expiry
    clock.advance(10_000)
    assert await kv.get("ttl") == "again"


async def test_expiration_limits(kv: KVNamespace, clock: FakeClock) -> None:
    # Checked against Miniflare 4.20260426 (tools/miniflare/kv_semantics.mjs).
    await expect_error("KV_INVALID_EXPIRATION", kv.put("k", "v", expiration_ttl=59))
    await expect_error("KV_INVALID_EXPIRATION", kv.put("k", "v", expiration_ttl=59.9))
    await expect_error("KV_INVALID_EXPIRATION", kv.put("k", "v", expiration=int(clock.now) + 59))
    await expect_error("KV_INVALID_EXPIRATION", kv.put("k", "v", expiration_ttl=True))  # type: ignore[arg-type]
    await expect_error("KV_INVALID_EXPIRATION", kv.put("k", "v", expiration_ttl="60"))  # type: ignore[arg-type]
    assert await kv.get("k") is None
    await kv.put("both", "v", expiration=int(clock.now) + 1000, expiration_ttl=100)  # the TTL wins
    await kv.put("float", "v", expiration_ttl=60.5)  # truncated to whole seconds
    listed = {k.name: k.expiration for k in (await kv.list()).keys}
    assert listed == {"both": int(clock.now) + 100, "float": int(clock.now) + 60}


async def test_key_value_metadata_limits_and_nothing_written(kv: KVNamespace) -> None:
    await kv.put("a" * 512, "ok")
    assert await kv.get("a" * 512) == "ok"
    await expect_error("KV_KEY_TOO_LONG", kv.put("a" * 513, "v"))
    await expect_error("KV_KEY_TOO_LONG", kv.put("é" * 257, "v"))  # 514 bytes in UTF-8
    for bad in ("", ".", ".."):
        await expect_error("KV_KEY_INVALID", kv.put(bad, "v"))
    await kv.put("big", "before")
    await expect_error("KV_VALUE_TOO_LARGE", kv.put("big", b"x" * (25 * 1024 * 1024 + 1)))
    assert await kv.get("big") == "before"
    await expect_error("KV_METADATA_TOO_LARGE", kv.put("big", "v", metadata={"x": "y" * 1020}))
    await expect_error("KV_INVALID_METADATA", kv.put("big", "v", metadata={"x": object()}))
    assert await kv.get("big") == "before"
    await kv.put("max", b"v" * (25 * 1024 * 1024))
    assert len(await kv.get("max", type="bytes")) == 25 * 1024 * 1024


async def test_list_order_prefix_and_cursor(kv: KVNamespace) -> None:
    names = ["b", "a", "A", "a/1", "a/2", "a/10", "é", "z", "Z", "a:x", "ab"]
    for name in names:
        await kv.put(name, "v")
    page = await kv.list()
    assert [k.name for k in page.keys] == sorted(names, key=lambda n: n.encode())
    assert page.list_complete and page.cursor is None
    assert [k.name for k in (await kv.list(prefix="a/")).keys] == ["a/1", "a/10", "a/2"]
    assert (await kv.list(prefix="nothing")).keys == []
    seen, cursor, pages = [], None, 0
    while True:
        page = await kv.list(limit=3, cursor=cursor)
        pages += 1
        seen += [k.name for k in page.keys]
        assert len(page.keys) <= 3
        if page.list_complete:
            assert page.cursor is None
            break
        assert page.cursor
        cursor = page.cursor
    assert seen == sorted(names, key=lambda n: n.encode()) and pages == 4
    first = await kv.list(prefix="a", limit=2)
    rest = await kv.list(prefix="a", limit=100, cursor=first.cursor)
    assert [k.name for k in first.keys + rest.keys] == ["a", "a/1", "a/10", "a/2", "a:x", "ab"]
    await expect_error("KV_INVALID_LIST_LIMIT", kv.list(limit=0))
    await expect_error("KV_INVALID_LIST_LIMIT", kv.list(limit=1001))
    await expect_error("KV_INVALID_CURSOR", kv.list(cursor="%%%"))


async def test_list_limit_1000_exactly(kv: KVNamespace) -> None:
    for i in range(1001):
        await kv.put(f"k{i:05d}", "v")
    page = await kv.list()
    assert len(page.keys) == 1000 and not page.list_complete
    last = await kv.list(cursor=page.cursor)
    assert [k.name for k in last.keys] == ["k01000"] and last.list_complete


async def test_writes_are_visible_to_other_handles_at_once(kv_factory: Factory) -> None:
    a, b = kv_factory(), kv_factory()
    assert await b.get("shared") is None  # b caches the miss
    await a.put("shared", "1")
    assert await b.get("shared") == "1"
    assert await b.get("shared") == "1"  # cached hit
    await a.put("shared", "2")
    assert await b.get("shared") == "2"
    await a.delete("shared")
    assert await b.get("shared") is None


async def test_redis_down_is_backend_unavailable(tmp_path: Path, clock: FakeClock) -> None:
    kv = open_namespace("redis", "down", tmp_path, f"redis://127.0.0.1:{free_port()}/0", clock=clock)
    with pytest.raises(BackendUnavailable) as info:
        await kv.put("k", "v")
    assert info.value.code == "BACKEND_UNAVAILABLE"
    with pytest.raises(BackendUnavailable):
        await kv.get("k")
    await kv.close()


async def test_unknown_backend(tmp_path: Path) -> None:
    with pytest.raises(BindingError) as info:
        open_namespace("memcached", "x", tmp_path)
    assert info.value.code == "KV_BACKEND_UNKNOWN"
