"""Country lookups through real MMDB files (written with mmdb-writer, read back by the maxminddb reader) in the
GeoLite2 layouts: IPv6 databases with IPv4 mapped in, IPv4-only ones, the registered-country fallback, bad
input, and clear errors for a missing or wrong file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet  # type: ignore[import-untyped]

from edgeplane.edge.geoip import EU_COUNTRIES, GDPR_COUNTRIES, GeoIP, GeoIPError


def write_mmdb(path: Path, networks: dict[str, dict[str, Any]], ip_version: int = 6) -> Path:
    writer = MMDBWriter(
        ip_version=ip_version, ipv4_compatible=ip_version == 6, database_type="GeoLite2-Country",
        languages=["en"], description="edgeplane test database",
    )  # fmt: skip
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def country(code: str, name: str = "") -> dict[str, Any]:
    return {"continent": {"code": "EU"}, "country": {"iso_code": code, "names": {"en": name or code}}}


@pytest.fixture
def geo(tmp_path: Path) -> GeoIP:
    path = write_mmdb(
        tmp_path / "GeoLite2-Country.mmdb",
        {
            "81.2.69.0/24": country("GB", "United Kingdom"),
            "2.16.0.0/13": country("de", "Germany"),
            "2001:db8::/32": country("FR", "France"),
            "198.51.100.0/24": {"registered_country": {"iso_code": "US"}},
            "192.0.2.0/24": {"continent": {"code": "EU"}},
        },
    )
    return GeoIP(path)


def test_countries_of_ipv4_and_ipv6_addresses(geo: GeoIP) -> None:
    assert geo.country("81.2.69.142") == "GB"
    assert geo.country("2.17.1.1") == "DE"
    assert geo.country("2001:db8::1") == "FR"
    assert geo.country("::ffff:81.2.69.142") == "GB"


def test_registered_country_is_the_fallback(geo: GeoIP) -> None:
    assert geo.country("198.51.100.20") == "US"


@pytest.mark.parametrize(
    "ip", ["8.8.8.8", "192.0.2.1", "::1", "", "not-an-ip", "999.1.1.1", "81.2.69.142:443", " 81.2.69.142", "1.2.3"]
)
def test_unknown_or_malformed_addresses_are_empty(geo: GeoIP, ip: str) -> None:
    assert geo.country(ip) == ""


def test_repeated_and_many_lookups_stay_correct(tmp_path: Path) -> None:
    geo = GeoIP(write_mmdb(tmp_path / "c.mmdb", {"10.0.0.0/8": country("NL")}), cache_size=16)
    addresses = [f"10.0.{i // 256}.{i % 256}" for i in range(500)]
    assert {geo.country(ip) for ip in addresses * 2} == {"NL"}
    assert geo.country("11.0.0.1") == ""
    geo.close()


def test_an_ipv4_only_database_answers_ipv6_with_empty(tmp_path: Path) -> None:
    geo = GeoIP(write_mmdb(tmp_path / "v4.mmdb", {"81.2.69.0/24": country("GB")}, ip_version=4))
    assert geo.country("81.2.69.1") == "GB"
    assert geo.country("2001:db8::1") == ""


def test_a_missing_file_names_the_path_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "GeoLite2-Country.mmdb"
    with pytest.raises(GeoIPError) as caught:
        GeoIP(path)
    assert str(path) in str(caught.value) and "download GeoLite2-Country.mmdb" in str(caught.value)
    with pytest.raises(GeoIPError, match="not a file"):
        GeoIP(tmp_path)


@pytest.mark.parametrize("content", [b"", b"country,ip\nGB,81.2.69.0/24\n", b"\x00" * 4096])
def test_a_file_that_is_not_mmdb_names_the_path_and_the_fix(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "countries.csv"
    path.write_bytes(content)
    with pytest.raises(GeoIPError) as caught:
        GeoIP(path)
    assert str(path) in str(caught.value) and "not a MaxMind DB" in str(caught.value)


def test_country_sets() -> None:
    assert len(EU_COUNTRIES) == 27
    assert {"DE", "FR", "GR", "IE", "HR"} <= EU_COUNTRIES
    assert not {"GB", "NO", "CH", "IS", "LI"} & EU_COUNTRIES
    beyond_eu = GDPR_COUNTRIES - EU_COUNTRIES
    assert beyond_eu == {"IS", "LI", "NO", "GB"} and EU_COUNTRIES < GDPR_COUNTRIES
