from __future__ import annotations

from pathlib import Path

import pytest

from edgeplane.config import load_app_config, load_server_config, parse_route
from edgeplane.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "edgeplane.toml").write_text(text)
    return tmp_path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_app_config(write(tmp_path, text))
    return info.value.message


def test_valid_config_with_environments(tmp_path: Path) -> None:
    cfg = load_app_config(
        write(
            tmp_path,
            """
name = "api"
main = "app.py:application"
compatibility_date = "2026-11-01"
routes = ["api.example.com/*"]
[vars]
A = "1"
B = 2
[env.staging]
routes = [{ pattern = "staging.example.com/v1/*" }]
vars = { A = "s" }
[env.preview-pr-7]
route = "pr-7.example.com/*"
""",
        )
    )
    assert cfg.vars_for("staging") == {"A": "s", "B": 2}
    assert cfg.vars_for("production") == {"A": "1", "B": 2}
    assert [r.pattern for r in cfg.environment("staging").all_routes()] == ["staging.example.com/v1/*"]
    assert [r.host for r in cfg.environment("production").all_routes()] == ["api.example.com"]
    assert [r.host for r in cfg.environment("preview-pr-7").all_routes()] == ["pr-7.example.com"]
    with pytest.raises(ValueError, match="unknown environment 'qa'"):
        cfg.environment("qa")


def test_unknown_key_names_file_key_and_suggests_fix(tmp_path: Path) -> None:
    message = error_of(tmp_path, 'name = "api"\nmain = "app.py"\n[env.staging]\nroute = "a.com/*"\nvarz = {}\n')
    assert str(tmp_path / "edgeplane.toml") in message
    assert "key 'env.staging.varz'" in message and "did you mean 'vars'?" in message


def test_wrong_types_and_missing_keys(tmp_path: Path) -> None:
    assert "key 'runtime.pool_size'" in error_of(tmp_path, 'name="a"\nmain="x.py"\n[runtime]\npool_size="two"\n')
    assert "key 'name': required key is missing" in error_of(tmp_path, 'main = "x.py"\n')
    assert "set exactly one of 'main'" in error_of(tmp_path, 'name = "a"\n')
    assert "set exactly one of 'main'" in error_of(tmp_path, 'name="a"\nmain="x.py"\nupstream="http://a:1"\n')
    assert "http:// URL" in error_of(tmp_path, 'name="a"\nupstream="ftp://x"\n')
    assert "key 'name'" in error_of(tmp_path, 'name = "Bad Name"\nmain = "x.py"\n')
    assert "'*' is only allowed at the end" in error_of(tmp_path, 'name="a"\nmain="x.py"\nroutes=["a.com/*/x"]\n')
    assert "environment name" in error_of(tmp_path, 'name="a"\nmain="x.py"\n[env.Prod]\n')


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid TOML" in error_of(tmp_path, 'name = "a\n')
    with pytest.raises(ConfigError, match="no such directory"):
        load_app_config(tmp_path / "missing")
    with pytest.raises(ConfigError, match="file not found; run 'edgeplane init'"):
        load_app_config(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)


def test_server_table_with_overrides(tmp_path: Path) -> None:
    write(tmp_path, 'name="a"\nmain="x.py"\n[server]\nport = 9000\ndata_dir = "state"\nmax_body_bytes = 10\n')
    cfg = load_server_config(tmp_path, admin_port=9001)
    assert (cfg.port, cfg.admin_port, cfg.max_body_bytes, cfg.host) == (9000, 9001, 10, "127.0.0.1")
    assert cfg.data_dir == tmp_path / "state"
    write(tmp_path, 'name="a"\nmain="x.py"\n[server]\nprot = 9000\n')
    with pytest.raises(ConfigError, match=r"key 'server.prot': unknown key; did you mean 'port'\?"):
        load_server_config(tmp_path)


@pytest.mark.parametrize(
    ("pattern", "host", "prefix", "wildcard"),
    [
        ("example.com/*", "example.com", "/", False),
        ("https://Example.com:8443/api/*", "example.com", "/api/", False),
        ("*.example.com/*", ".example.com", "/", True),
        ("*/*", "", "/", True),
        ("example.com/exact", "example.com", "/exact", False),
    ],
)
def test_parse_route(pattern: str, host: str, prefix: str, wildcard: bool) -> None:
    route = parse_route(pattern)
    assert (route.host, route.path_prefix, route.wildcard_host) == (host, prefix, wildcard)


@pytest.mark.parametrize("pattern", ["example.com", "/*", "a*b.com/*", "x.com/a*/b"])
def test_bad_routes(pattern: str) -> None:
    with pytest.raises(ValueError):
        parse_route(pattern)


APP = 'name = "api"\nmain = "app.py"\n'


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        (
            '[[waf.rules]]\nid = "r"\naction = "block"\nexpression = \'http.request.urii eq "/"\'\n',
            "waf.rules[0].expression",
            ["column 1", "did you mean 'http.request.uri'"],
        ),
        ('[[waf.rules]]\nid = "r"\naction = "deny"\nexpression = "true"\n', "waf.rules[0].action", ["block"]),
        (
            '[[cache.policies]]\nname = "p"\nmatch = \'starts_with(http.host "a")\'\n',
            "cache.policies[0].match",
            ["column"],
        ),
        (
            '[[cache.policies]]\nname = "p"\nmatch = "true"\nbypass = true\nttl = "1h"\n',
            "cache.policies[0]",
            ["bypass = true"],
        ),
        (
            '[[rate_limits]]\nname = "r"\nperiod = "1m"\nrequests = { premium = 5 }\n',
            "rate_limits[0].requests",
            ["'anonymous' or 'authenticated'"],
        ),
        ('[[rate_limits]]\nname = "r"\nperiod = "0s"\nrequests = 5\n', "rate_limits[0].period", ["between 1s"]),
        (
            '[[rate_limits]]\nname = "r"\nperiod = "1m"\nrequests = 5\ncharacteristics = ["ua"]\n',
            "rate_limits[0].characteristics",
            ["header:<name>"],
        ),
        (
            '[[access.policies]]\nname = "a"\nmatch = "true"\nips = ["10.0.0.0/33"]\n',
            "access.policies[0].ips",
            ["CIDR"],
        ),
        ('[[geo.policies]]\nname = "g"\nallow = ["US"]\nblock = ["KP"]\n', "geo.policies[0]", ["not both"]),
        ('[[geo.policies]]\nname = "g"\nblock = ["Korea"]\n', "geo.policies[0].block", ["alpha-2"]),
        ('[auth.jwt]\nalgorithms = ["HS256"]\n', "auth.jwt", ["secret_env"]),
        ('[auth.jwt]\nalgorithms = ["none"]\njwks_url = "https://x/jwks"\n', "auth.jwt.algorithms", ["RS256"]),
    ],
)
def test_edge_sections_name_the_key_and_the_fix(tmp_path: Path, section: str, key: str, words: list[str]) -> None:
    message = error_of(tmp_path, APP + section)
    assert f"'{key}" in message, message
    for word in words:
        assert word in message, message


def test_edge_sections_load(tmp_path: Path) -> None:
    config = load_app_config(
        write(
            tmp_path,
            APP
            + """
[[cache.policies]]
name = "templates"
match = 'starts_with(http.request.uri.path, "/templates")'
ttl = "1h"
key = { query = ["lang"] }

[[rate_limits]]
name = "auth"
match = 'starts_with(http.request.uri.path, "/auth")'
period = "1m"
requests = { anonymous = 10, authenticated = 60, premium = 200 }
unlimited = ["admin"]

[[access.policies]]
name = "admin"
match = 'starts_with(http.request.uri.path, "/admin")'
email_domains = ["@Example.com"]
""",
        )
    )
    assert config.cache.policies[0].ttl == 3600
    rule = config.rate_limits[0]
    assert rule.period == 60
    assert [
        rule.limit_for(t, a) for t, a in (("anonymous", False), ("premium", True), ("gold", True), ("admin", True))
    ] == [10, 200, 60, None]
    assert config.access.policies[0].email_domains == ["example.com"]
