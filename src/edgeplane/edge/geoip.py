"""Geo lookup for ``EdgeRequest.country`` (``ip.src.country`` in rules) from a MaxMind-format database.

Reads any MMDB with the GeoLite2/GeoIP2 Country or City layout (``record["country"]["iso_code"]``, falling
back to ``registered_country`` for addresses MaxMind places only by registration) — GeoLite2-Country,
GeoIP2-City, DB-IP's lite country database. Lookups go through the ``maxminddb`` C reader (memory-mapped)
behind a bounded per-IP LRU cache, and never raise: a malformed address, an IPv6 address in an IPv4-only
database or an address the database does not know is ``""``. IPv4-mapped IPv6 addresses
(``::ffff:81.2.69.142``, what a dual-stack socket reports) are looked up as the IPv4 address.

Country sets:

- ``EU_COUNTRIES``: the 27 EU member states — what Cloudflare's ``ip.src.is_in_european_union`` means.
- ``GDPR_COUNTRIES``: where the GDPR or its copy applies: the EEA (EU + Iceland, Liechtenstein, Norway,
  which adopted the GDPR) plus the United Kingdom (UK GDPR). Switzerland (revFADP) is not included.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import maxminddb

__all__ = ["EU_COUNTRIES", "GDPR_COUNTRIES", "GeoIP", "GeoIPError"]

EU_COUNTRIES: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }
)  # fmt: skip
GDPR_COUNTRIES: frozenset[str] = EU_COUNTRIES | {"IS", "LI", "NO", "GB"}

_DOWNLOAD_HINT = (
    "download GeoLite2-Country.mmdb (free MaxMind account, or `geoipupdate`) and point the geo database path at it"
)


class GeoIPError(ValueError):
    """The geo database cannot be used (missing file, not an MMDB file)."""


class GeoIP:
    """Country of an IP address, from one MMDB file (open for the object's life; ``close()`` releases it)."""

    def __init__(self, path: Path, cache_size: int = 65_536) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise GeoIPError(f"geo database {self.path} does not exist or is not a file: {_DOWNLOAD_HINT}")
        try:
            self._reader = maxminddb.open_database(str(self.path))
        except (maxminddb.InvalidDatabaseError, OSError, ValueError) as exc:
            raise GeoIPError(
                f"geo database {self.path} is not a MaxMind DB (.mmdb) file ({exc}): {_DOWNLOAD_HINT}"
            ) from None
        self._cached_country = lru_cache(maxsize=cache_size)(self._lookup)

    def country(self, ip: str) -> str:
        """Upper-case ISO 3166-1 alpha-2 code of ``ip``, or ``""`` when unknown or not an address."""
        return self._cached_country(ip)

    def _lookup(self, ip: str) -> str:
        if ip[:7].lower() == "::ffff:" and "." in ip:
            ip = ip[7:]
        try:
            record = self._reader.get(ip)
        except (ValueError, TypeError, maxminddb.InvalidDatabaseError):
            return ""
        if not isinstance(record, dict):
            return ""
        for key in ("country", "registered_country"):
            place = record.get(key)
            code = place.get("iso_code") if isinstance(place, dict) else None
            if isinstance(code, str) and code:
                return code.upper()
        return ""

    def close(self) -> None:
        self._reader.close()
