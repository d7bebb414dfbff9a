from __future__ import annotations

from collections import Counter

import pytest

from edgeplane.config import parse_route
from edgeplane.delivery.splits import Split, parse_split, validate_splits
from edgeplane.delivery.versions import resolve_version
from edgeplane.errors import BadRequest, NotFound
from edgeplane.gateway.routing import DeploymentTarget, RouteTable, VersionTarget, bucket_of


def target(name: str, *weights: float) -> DeploymentTarget:
    versions = [VersionTarget(f"{name}-{i}-0000-uuid", w, None, f"{name}-{i}".encode()) for i, w in enumerate(weights)]
    return DeploymentTarget.build(name, "production", name, versions)


def test_route_precedence_exact_then_longest_path_then_wildcard_then_fallback() -> None:
    api, root, wild, any_host, fb = (target(n, 100) for n in ("api", "root", "wild", "any", "fb"))
    table = RouteTable(
        [
            (parse_route("example.com/*"), root),
            (parse_route("example.com/api/*"), api),
            (parse_route("*.example.com/*"), wild),
            (parse_route("*/health"), any_host),
        ],
        fallback=fb,
    )
    assert table.match("example.com", "/api/x") is api
    assert table.match("example.com", "/about") is root
    assert table.match("eu.example.com", "/api/x") is wild
    assert table.match("other.org", "/health") is any_host
    assert table.match("other.org", "/") is fb
    assert RouteTable([(parse_route("example.com/*"), root)]).match("example.org", "/") is None


def test_weights_override_and_sticky_keys() -> None:
    t = target("app", 70, 30, 0)
    picks = Counter(t.choose(None, None).version_id for _ in range(10_000))
    assert 6700 < picks["app-0-0000-uuid"] < 7300 and 2700 < picks["app-1-0000-uuid"] < 3300
    assert picks["app-2-0000-uuid"] == 0  # 0% is reachable only by override
    assert t.choose(b"app-2-0000-uuid", None).version_id == "app-2-0000-uuid"
    assert t.choose(b"app-2-00", None).version_id == "app-2-0000-uuid"  # 8-char short id
    assert t.choose(b"someone-else", b"k").version_id == t.choose(None, b"k").version_id  # unknown override ignored
    for key in (b"a", b"user-42", b"\xff" * 40):
        assert len({t.choose(None, key).version_id for _ in range(50)}) == 1
    sticky = Counter(t.choose(None, f"user-{i}".encode()).version_id for i in range(10_000))
    assert 6700 < sticky["app-0-0000-uuid"] < 7300
    assert bucket_of(b"user-1") == bucket_of(b"user-1") and 0 <= bucket_of(b"x") < 10_000


@pytest.mark.parametrize(
    ("text", "split"),
    [
        ("v1@90", Split("v1", 90)),
        ("abc@12.5%", Split("abc", 12.5)),
        ("tag@x@10", Split("tag@x", 10)),
        ("v3", Split("v3", 100)),
    ],
)
def test_parse_split(text: str, split: Split) -> None:
    assert parse_split(text) == split


@pytest.mark.parametrize(
    ("splits", "message"),
    [
        ([Split("a", 90), Split("b", 20)], "sum to 100, got 90 \\+ 20 = 110"),
        ([Split("a", 150), Split("b", -50)], "between 0 and 100"),
        ([Split("a", 33.333), Split("b", 66.667)], "two decimals"),
        ([], "at least one"),
        ([Split(f"v{i}", 10) for i in range(11)], "at most 10"),
        ([Split("", 100)], "missing its version"),
    ],
)
def test_bad_splits(splits: list[Split], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        validate_splits(splits)


def test_valid_splits() -> None:
    validate_splits([Split("a", 33.33), Split("b", 33.33), Split("c", 33.34)])
    validate_splits([Split("a", 0), Split("b", 100)])


VERSIONS = [
    {"id": "aaaa1111-0000", "number": 1, "tag": "stable"},
    {"id": "aaaa2222-0000", "number": 2, "tag": None},
    {"id": "bbbb3333-0000", "number": 3, "tag": "stable"},
]


@pytest.mark.parametrize(
    ("ref", "number"),
    [("v1", 1), ("2", 2), ("latest", 3), ("stable", 3), ("bbbb", 3), ("aaaa2222-0000", 2), ("aaaa1", 1)],
)
def test_resolve_version(ref: str, number: int) -> None:
    assert resolve_version(ref, VERSIONS)["number"] == number


def test_resolve_version_errors() -> None:
    with pytest.raises(BadRequest, match="ambiguous"):
        resolve_version("aaaa", VERSIONS)
    with pytest.raises(NotFound, match="unknown version 'v9'"):
        resolve_version("v9", VERSIONS)
    with pytest.raises(NotFound, match="no versions uploaded"):
        resolve_version("v1", [])
