"""RFC 9111 storability and lifetime, cache keys, the byte-bounded LRU and purge rules (edgeplane/edge/cache)."""

from __future__ import annotations

import pytest

from edgeplane.config.edge import CacheKeyConfig, CachePolicy
from edgeplane.edge.cache.freshness import lifetime, parse_directives
from edgeplane.edge.cache.keys import DEFAULT_KEY, cache_key, normalise_query, variant_key
from edgeplane.edge.cache.store import CacheEntry, MemoryTier, Purge, PurgeList

NOW = 1_800_000_000.0


def policy(**kwargs: object) -> CachePolicy:
    return CachePolicy.model_validate({"name": "p", "match": "true", **kwargs})


def life(headers: dict[bytes, bytes], p: CachePolicy | None = None, status: int = 200, authorized: bool = False):  # type: ignore[no-untyped-def]
    return lifetime(status, headers, p, authorized=authorized, now=NOW)


def test_directives_parse() -> None:
    assert parse_directives(b'Public, max-age=60, no-cache="set-cookie"') == {
        "public": None, "max-age": "60", "no-cache": "set-cookie",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "fresh"),
    [
        ({b"cache-control": b"max-age=60"}, 60),
        ({b"cache-control": b"max-age=60, s-maxage=10"}, 10),  # shared caches prefer s-maxage
        ({b"cache-control": b"max-age=60", b"cdn-cache-control": b"max-age=300"}, 300),
        ({b"cdn-cache-control": b"max-age=300", b"edgeplane-cache-control": b"max-age=5"}, 5),
        ({b"cache-control": b"max-age=bogus"}, 0),  # invalid: stale at once
        ({b"expires": b"Thu, 01 Jan 2026 00:10:00 GMT", b"date": b"Thu, 01 Jan 2026 00:00:00 GMT"}, 600),
        ({b"expires": b"0", b"date": b"Thu, 01 Jan 2026 00:00:00 GMT"}, 0),
    ],
)
def test_freshness_precedence(headers: dict[bytes, bytes], fresh: float) -> None:
    result = life(headers)
    assert result.store and result.fresh == fresh


@pytest.mark.parametrize(
    ("headers", "reason", "authorized"),
    [
        ({b"cache-control": b"no-store, max-age=60"}, "no-store", False),
        ({b"cache-control": b"private, max-age=60"}, "private", False),
        ({b"cache-control": b"max-age=60", b"set-cookie": b"a=b"}, "set-cookie", False),
        ({b"cache-control": b"max-age=60"}, "authorization", True),
        ({}, "no lifetime", False),
        ({b"cdn-cache-control": b"no-store", b"cache-control": b"max-age=60"}, "no-store", False),
    ],
)
def test_not_stored(headers: dict[bytes, bytes], reason: str, authorized: bool) -> None:
    result = life(headers, authorized=authorized)
    assert not result.store and result.reason == reason


def test_authorized_requests_may_store_what_the_origin_marks_public() -> None:
    assert life({b"cache-control": b"public, max-age=60"}, authorized=True).store
    assert life({b"cache-control": b"s-maxage=60"}, authorized=True).store


def test_targeted_field_replaces_cache_control() -> None:
    assert life({b"cache-control": b"no-store", b"cdn-cache-control": b"max-age=60"}).fresh == 60


def test_policy_ttl_only_when_the_origin_is_silent_and_edge_ttl_always() -> None:
    assert life({}, policy(ttl="1h")).fresh == 3600
    assert life({b"cache-control": b"max-age=5"}, policy(ttl="1h")).fresh == 5
    assert life({b"cache-control": b"max-age=5"}, policy(edge_ttl="1h")).fresh == 3600
    assert not life({b"cache-control": b"no-store"}, policy(edge_ttl="1h")).store
    assert life({b"cache-control": b"private"}, policy(ttl="1m", private=True)).store


def test_statuses_and_stale_windows() -> None:
    assert not life({}, policy(ttl="1m"), status=500).store  # policy ttl does not make a 500 cacheable
    assert life({b"cache-control": b"max-age=5"}, status=500).store  # an explicit lifetime does
    assert life({}, policy(ttl="1m"), status=404).store
    both = life({b"cache-control": b"max-age=5, stale-while-revalidate=30, stale-if-error=600"})
    assert (both.swr, both.sie) == (30, 600)
    from_policy = life({b"cache-control": b"max-age=5"}, policy(stale_while_revalidate="10s", stale_if_error="1m"))
    assert (from_policy.swr, from_policy.sie) == (10, 60)
    strict = life({b"cache-control": b"max-age=5, must-revalidate, stale-if-error=600"})
    assert strict.must_revalidate and strict.sie == 0
    no_cache = life({b"cache-control": b"no-cache, max-age=60"}, policy(stale_if_error="1h"))
    assert no_cache.fresh == 0 and no_cache.sie == 0 and no_cache.swr == 0  # revalidated on every use, never stale


def test_expires_without_date_counts_from_receipt() -> None:
    from email.utils import formatdate

    assert life({b"expires": formatdate(NOW + 600, usegmt=True).encode()}).fresh == pytest.approx(600, abs=1)


def test_keys_normalise_the_query_and_add_what_the_policy_names() -> None:
    assert normalise_query(b"b=2&a=1", DEFAULT_KEY) == "a=1&b=2"
    assert normalise_query(b"a=1&utm_source=x", CacheKeyConfig(ignore_query=["utm_source"])) == "a=1"
    assert normalise_query(b"a=1&lang=en&x=2", CacheKeyConfig(query=["lang"])) == "lang=en"
    assert normalise_query(b"a=1", CacheKeyConfig(query="none")) == ""
    key, url = cache_key("v1", "api.example.com", b"/t", b"b=2&a=1", DEFAULT_KEY, {}, b"")
    assert url == "api.example.com/t?a=1&b=2" and key == "v1|api.example.com/t?a=1&b=2"
    assert cache_key("v2", "api.example.com", b"/t", b"a=1&b=2", DEFAULT_KEY, {}, b"")[0] != key  # versions
    custom = CacheKeyConfig(headers=["Accept-Language"], cookies=["plan"], country=True)
    headers = {b"accept-language": b"de", b"cookie": b"plan=pro; other=1"}
    k1, _ = cache_key("v1", "h", b"/p", b"", custom, headers, b"DE")
    k2, _ = cache_key("v1", "h", b"/p", b"", custom, {**headers, b"cookie": b"plan=free"}, b"DE")
    assert k1 != k2 and k1.endswith("|de|pro|DE")
    assert variant_key("k", (b"accept-language",), headers) != variant_key("k", (b"accept-language",), {})
    # no request can forge another's key: separators in the path or a header are escaped
    forged, _ = cache_key("v1", "h", b"/page|v:zz", b"", DEFAULT_KEY, {}, b"")
    assert forged == "v1|h/page%7Cv:zz" and "|v:" not in forged
    assert (
        cache_key("v1", "h", b"/a%3Fb=1", b"", DEFAULT_KEY, {}, b"")[0]
        != cache_key("v1", "h", b"/a", b"b=1", DEFAULT_KEY, {}, b"")[0]
    )
    gzip = variant_key("k", (b"accept-encoding",), {b"accept-encoding": b"gzip, deflate, br, zstd"})
    assert gzip == variant_key("k", (b"accept-encoding",), {b"accept-encoding": b"br;q=1, zstd, deflate, gzip"})
    assert gzip != variant_key("k", (b"accept-encoding",), {})


def entry(url: str, size: int = 100, stored: float = NOW, tags: frozenset[str] = frozenset()) -> CacheEntry:
    return CacheEntry.make(200, ((b"content-type", b"text/plain"),), b"x" * size, stored, stored + 60, stored + 60,
                           stored + 60, url, tags, b'"e"', b"", (), 0.0, False)  # fmt: skip


def test_entries_survive_serialisation() -> None:
    original = entry("h/p?a=1", tags=frozenset({"t1", "t2"}))
    copy = CacheEntry.from_bytes(original.to_bytes())
    assert (copy.status, copy.headers, copy.body, copy.url, copy.tags, copy.etag, copy.size) == (
        original.status, original.headers, original.body, original.url, original.tags, original.etag, original.size,
    )  # fmt: skip


def test_memory_tier_is_an_lru_bounded_in_bytes() -> None:
    one = entry("h/1", 1000)
    tier = MemoryTier(3 * one.size)
    for i in range(3):
        tier.put(f"k{i}", entry(f"h/{i}", 1000))
    assert tier.get("k0") is not None  # k0 is now the most recently used
    tier.put("k3", entry("h/3", 1000))
    assert tier.get("k1") is None and tier.get("k0") is not None and tier.evictions == 1
    assert tier.bytes == 3 * one.size
    tier.put("huge", entry("h/huge", 10_000))  # larger than the whole tier: not stored, nothing evicted
    assert tier.get("huge") is None and len(tier.entries) == 3


def test_purges_match_url_prefix_host_tag_and_all_stored_before_them() -> None:
    e = entry("api.example.com/a/b?x=1", tags=frozenset({"blue"}))
    later = NOW + 1
    assert Purge("url", "api.example.com/a/b?x=1", later).matches(e)
    assert not Purge("url", "api.example.com/a/b", later).matches(e)
    assert Purge("prefix", "api.example.com/a/", later).matches(e)
    assert Purge("host", "api.example.com", later).matches(e)
    assert not Purge("host", "api.example.co", later).matches(e)
    assert Purge("tag", "blue", later).matches(e) and not Purge("tag", "red", later).matches(e)
    assert Purge("all", "", later).matches(e)
    assert not Purge("all", "", NOW - 1).matches(e)  # stored after the purge: not affected
    purges = PurgeList()
    purges.add(Purge("tag", "blue", later))
    assert purges.purged(e) and not purges.purged(entry("api.example.com/a/b?x=1", stored=later + 1))
    tier = MemoryTier(10**6)
    tier.put("k", e)
    tier.put("other", entry("other.example.com/"))
    assert tier.purge(Purge("prefix", "api.example.com/", later)) == 1 and list(tier.entries) == ["other"]
