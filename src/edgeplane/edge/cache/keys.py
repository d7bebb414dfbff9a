"""Cache keys: version + host + path + normalised query (+ the headers, cookies and country a policy names),
and the variant suffix an origin's ``Vary`` adds.

The version is part of the key so a canary's responses never reach the stable version's clients and a rollback
never serves the bad version's cached responses.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from edgeplane.config.edge import CacheKeyConfig
from edgeplane.edge.request import parse_cookies

__all__ = ["DEFAULT_KEY", "cache_key", "normalise_query", "variant_key"]

DEFAULT_KEY = CacheKeyConfig()
CODINGS = ("br", "deflate", "gzip", "zstd")


def normalise_query(raw: bytes, key: CacheKeyConfig) -> str:
    """The query as it counts for the key: parameters sorted (``?b=2&a=1`` and ``?a=1&b=2`` are one entry),
    filtered by the policy's include/ignore lists."""
    if not raw or key.query == "none":
        return ""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    if isinstance(key.query, list):
        wanted = set(key.query)
        pairs = [p for p in pairs if p[0] in wanted]
    elif key.ignore_query:
        ignored = set(key.ignore_query)
        pairs = [p for p in pairs if p[0] not in ignored]
    pairs.sort()
    return urlencode(pairs)


def cache_key(
    version: str,
    host: str,
    raw_path: bytes,
    raw_query: bytes,
    key: CacheKeyConfig,
    headers: dict[bytes, bytes],
    country: bytes,
) -> tuple[str, str]:
    """``(key, url)``: the lookup key and the ``host/path?query`` URL purges match. The path is the raw one
    (still percent-encoded: ``/a%3Fb`` and ``/a?b`` are different resources); ``|`` in any part is escaped, so
    no request can make its key look like another's."""
    query = normalise_query(raw_query, key)
    path = raw_path.decode("latin-1")
    url = (f"{host}{path}?{query}" if query else f"{host}{path}").replace("|", "%7C")
    if key is DEFAULT_KEY:
        return f"{version}|{url}", url
    parts = [version, url]
    for name in key.headers:
        parts.append(headers.get(name.lower().encode("latin-1"), b"").decode("latin-1"))
    if key.cookies:
        jar = parse_cookies(headers.get(b"cookie", b"").decode("latin-1"))
        parts += [jar.get(name, "") for name in key.cookies]
    if key.country:
        parts.append(country.decode("latin-1"))
    return "|".join([parts[0], parts[1], *(p.replace("|", "%7C") for p in parts[2:])]), url


def variant_key(primary: str, vary: tuple[bytes, ...], headers: dict[bytes, bytes]) -> str:
    """The key of the variant of ``primary`` a request selects (its values of the ``Vary`` headers;
    ``Accept-Encoding`` reduced to the codings it accepts, so browsers share a handful of variants)."""
    values = []
    for name in vary:
        value = headers.get(name, b"").decode("latin-1")
        if name == b"accept-encoding":
            value = ",".join(sorted(c for c in CODINGS if c in value.lower()))
        values.append(value.replace("|", "%7C"))
    return primary + "|v:" + "\x1f".join(values)
