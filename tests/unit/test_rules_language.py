"""The rules language: every field, operator and function evaluated against real EdgeRequests, precedence,
the errors a user sees (with their columns), robustness against garbage and injection."""

from __future__ import annotations

import itertools
import pickle
import random
from collections.abc import Callable

import pytest

from edgeplane.edge.request import EdgeRequest, Identity
from edgeplane.edge.rules import (
    BODY_FIELDS,
    BOT_FIELDS,
    FIELDS,
    IDENTITY_FIELDS,
    RuleSyntaxError,
    compile_expression,
    compile_first_match,
    fields_used,
)
from edgeplane.edge.rules.parser import MAX_DEPTH

DEFAULT_HEADERS = (
    ("host", "shop.example.com"),
    ("user-agent", "Mozilla/5.0 (X11; Linux) Firefox/126.0"),
    ("referer", "https://news.example.org/a"),
    ("cookie", "session=abc123; theme=dark"),
    ("x-forwarded-for", "198.51.100.1"),
    ("x-forwarded-for", "10.0.0.2"),
    ("X-Api-Key", "k-42"),
)


def request(
    *,
    method: str = "GET",
    host: str = "shop.example.com",
    path: str = "/products/42",
    query: bytes = b"q=caf%C3%A9+au+lait&page=2",
    headers: tuple[tuple[str, str], ...] = DEFAULT_HEADERS,
    ip: str = "203.0.113.9",
    country: str = "DE",
    body: bytes = b"",
    identity: Identity | None = None,
    bot_score: int = 99,
) -> EdgeRequest:
    all_headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    r = EdgeRequest(method, host, path, query, dict(all_headers), all_headers, ip, country, body)
    r.identity = identity
    r.bot_score = bot_score
    return r


def matches(expression: str, r: EdgeRequest | None = None) -> bool:
    result = compile_expression(expression)(r or request())
    assert type(result) is bool
    return result


# -- fields


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('http.request.uri.path eq "/products/42"', True),
        ('http.request.uri.query eq "q=café+au+lait&page=2"', True),
        ('http.request.uri eq "/products/42?q=café+au+lait&page=2"', True),
        ('http.request.full_uri eq "http://shop.example.com/products/42?q=café+au+lait&page=2"', True),
        ('http.request.method eq "GET"', True),
        ('http.host eq "shop.example.com"', True),
        ('http.user_agent contains "Firefox"', True),
        ('http.referer eq "https://news.example.org/a"', True),
        ('http.cookie eq "session=abc123; theme=dark"', True),
        ('http.request.cookies["session"] eq "abc123"', True),
        ('http.request.cookies["absent"] eq ""', True),
        ('http.request.headers["x-api-key"] eq "k-42"', True),
        ('http.request.headers["X-API-KEY"] eq "k-42"', True),
        ('http.request.headers["x-forwarded-for"] eq "10.0.0.2"', True),  # the last one wins
        ('http.request.headers["absent"] eq ""', True),
        ('any(http.request.headers["x-forwarded-for"][*] eq "198.51.100.1")', True),
        ('any(http.request.headers.names[*] eq "x-api-key")', True),
        ('http.request.body.raw eq ""', True),
        ("http.request.body.size eq 0", True),
        ("ip.src eq 203.0.113.9", True),
        ('ip.geoip.country eq "DE"', True),
        ("cf.bot_management.score eq 99", True),
        ('edgeplane.user.id eq ""', True),
        ('edgeplane.user.tier eq "anonymous"', True),
        ('edgeplane.user.email eq ""', True),
        ("edgeplane.user.mfa", False),
        ("edgeplane.user.authenticated", False),
        ("not edgeplane.user.authenticated", True),
    ],
)
def test_every_field_reads_the_request(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


def test_body_fields_read_the_body_as_latin1() -> None:
    r = request(method="POST", body=b"name=\xe9&x=<script>")
    assert matches('http.request.body.raw contains "<script>"', r)
    assert matches('http.request.body.raw contains "name=é"', r)
    assert matches("http.request.body.size eq 17", r)


def test_identity_fields_for_a_signed_in_user() -> None:
    user = request(identity=Identity("u-7", tier="premium", email="ana@example.com", mfa=True))
    assert matches('edgeplane.user.id eq "u-7"', user)
    assert matches('edgeplane.user.tier eq "premium"', user)
    assert matches('ends_with(edgeplane.user.email, "@example.com")', user)
    assert matches("edgeplane.user.mfa and edgeplane.user.authenticated", user)
    assert not matches("edgeplane.user.mfa", request(identity=Identity("u-8")))
    assert matches('edgeplane.user.tier eq "authenticated"', request(identity=Identity("u-8")))


def test_bot_score_and_country_come_from_the_request() -> None:
    assert matches("cf.bot_management.score lt 30", request(bot_score=5))
    assert not matches("cf.bot_management.score lt 30", request(bot_score=30))
    assert matches('ip.geoip.country eq ""', request(country=""))


def test_full_uri_without_query_has_no_question_mark() -> None:
    assert matches('http.request.full_uri eq "http://a.test/x"', request(host="a.test", path="/x", query=b""))


# -- operators


STRING_OPS = [
    # (english, c-like, value, expected with path "/products/42")
    ("eq", "==", '"/products/42"', True),
    ("eq", "==", '"/products/4"', False),
    ("ne", "!=", '"/products/42"', False),
    ("ne", "!=", '"/x"', True),
    ("lt", "<", '"/q"', True),
    ("lt", "<", '"/products/42"', False),
    ("le", "<=", '"/products/42"', True),
    ("gt", ">", '"/a"', True),
    ("gt", ">", '"/products/42"', False),
    ("ge", ">=", '"/products/42"', True),
    ("ge", ">=", '"/z"', False),
    ("matches", "~", r'"^/products/\\d+$"', True),
    ("matches", "~", '"42"', True),  # a search, not anchored
    ("matches", "~", '"^42"', False),
]


@pytest.mark.parametrize(("english", "c_like", "value", "expected"), STRING_OPS)
def test_string_comparisons_in_both_notations(english: str, c_like: str, value: str, expected: bool) -> None:
    assert matches(f"http.request.uri.path {english} {value}") is expected
    assert matches(f"http.request.uri.path {c_like} {value}") is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('http.request.uri.path contains "ducts/4"', True),
        ('http.request.uri.path contains "Products"', False),
        ('http.request.uri.path contains ""', True),
        ('http.request.method in {"GET" "HEAD"}', True),
        ('http.request.method in {"POST" "PUT"}', False),
        ("http.request.method in {}", False),
        ('http.user_agent matches r"(?i)firefox/1\\d\\d"', True),
        ('http.user_agent matches r#"Fire"fox"#', False),
    ],
)
def test_contains_in_and_regex_on_strings(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


@pytest.mark.parametrize(
    ("op", "truth"),
    [("eq", [0, 1, 0]), ("ne", [1, 0, 1]), ("lt", [1, 0, 0]), ("le", [1, 1, 0]), ("gt", [0, 0, 1]), ("ge", [0, 1, 1])],
)
def test_integer_comparisons(op: str, truth: list[int]) -> None:
    c_like = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[op]
    for score, expected in zip((29, 30, 31), truth, strict=True):
        assert matches(f"cf.bot_management.score {op} 30", request(bot_score=score)) is bool(expected)
        assert matches(f"cf.bot_management.score {c_like} 30", request(bot_score=score)) is bool(expected)


@pytest.mark.parametrize(
    ("score", "expected"), [(0, False), (1, True), (5, True), (6, False), (9, True), (20_000, True), (99_999, False)]
)
def test_integer_sets_with_ranges(score: int, expected: bool) -> None:
    expression = "cf.bot_management.score in {1..5 9 10000..50000}"  # the wide range takes the non-expanded path
    assert matches(expression, request(bot_score=score)) is expected
    assert matches("cf.bot_management.score in {1..5 9}", request(bot_score=score)) is (score in (1, 2, 3, 4, 5, 9))


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("10.20.30.40", True),
        ("192.168.1.1", True),
        ("192.168.1.2", False),
        ("2001:db8::1", True),
        ("2001:db9::1", False),
        ("::ffff:10.1.1.1", True),  # IPv4-mapped counts as IPv4
        ("203.0.113.9", False),
        ("unknown", False),
        ("", False),
    ],
)
def test_ip_in_sets_of_addresses_and_networks(ip: str, expected: bool) -> None:
    r = request(ip=ip)
    assert matches("ip.src in {10.0.0.0/8 192.168.1.1 2001:db8::/32}", r) is expected
    assert matches("not ip.src in {10.0.0.0/8 192.168.1.1 2001:db8::/32}", r) is not expected


def test_ip_equality() -> None:
    assert matches("ip.src eq 203.0.113.9")
    assert matches("ip.src == 203.0.113.9")
    assert not matches("ip.src ne 203.0.113.9")
    assert matches("ip.src eq ::1", request(ip="::1"))
    assert matches("ip.src ne 203.0.113.9", request(ip="not-an-ip"))


def test_booleans_bare_negated_and_compared() -> None:
    mfa = request(identity=Identity("u", mfa=True))
    assert matches("edgeplane.user.mfa eq true", mfa)
    assert matches("edgeplane.user.mfa != false", mfa)
    assert not matches("!edgeplane.user.mfa", mfa)
    assert matches("true")
    assert not matches("false")
    assert matches("not false")


# -- logic and precedence

ATOMS = ("a", "b", "c", "d")


def flags(*values: bool) -> EdgeRequest:
    return request(headers=tuple((name, "1" if v else "0") for name, v in zip(ATOMS, values, strict=True)))


def atom(name: str) -> str:
    return f'http.request.headers["{name}"] eq "1"'


@pytest.mark.parametrize(
    ("template", "reference"),
    [
        ("not {a} and {b} or {c}", lambda a, b, c, d: ((not a) and b) or c),
        ("! {a} && {b} || {c}", lambda a, b, c, d: ((not a) and b) or c),
        ("not ({a} and {b}) or {c}", lambda a, b, c, d: (not (a and b)) or c),
        ("{a} or {b} and {c}", lambda a, b, c, d: a or (b and c)),
        ("{a} xor {b} and {c}", lambda a, b, c, d: a != (b and c)),
        ("{a} or {b} xor {c}", lambda a, b, c, d: a or (b != c)),
        ("{a} ^^ {b} ^^ {c}", lambda a, b, c, d: (a != b) != c),
        ("({a} or {b}) and ({c} or {d})", lambda a, b, c, d: (a or b) and (c or d)),
        ("not not {a}", lambda a, b, c, d: a),
        ("{a} and {b} and {c} and {d}", lambda a, b, c, d: a and b and c and d),
    ],
)
def test_precedence_not_and_xor_or(template: str, reference: Callable[..., bool]) -> None:
    rule = compile_expression(template.format(**{name: atom(name) for name in ATOMS}))
    for values in itertools.product((False, True), repeat=4):
        assert rule(flags(*values)) is bool(reference(*values)), values


def test_comparisons_bind_tighter_than_not() -> None:
    assert matches('not http.request.method eq "POST"')
    assert matches('(http.request.method eq "GET") eq true')


# -- functions


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('lower(http.user_agent) contains "firefox"', True),
        ('upper(http.request.method) eq "GET"', True),
        ('starts_with(http.request.uri.path, "/products/")', True),
        ('starts_with(http.request.uri.path, "/admin")', False),
        ('ends_with(http.request.uri.path, "/42")', True),
        ('ends_with(http.request.uri.path, ".php")', False),
        ("len(http.request.uri.path) eq 12", True),
        ("len(http.request.headers.names) eq 7", True),
        ('url_decode("a%2Fb+c") eq "a/b c"', True),
        ('concat(http.host, http.request.uri.path) eq "shop.example.com/products/42"', True),
        ('concat("a", "b", "c", lower("D")) eq "abcd"', True),
        ('any(http.request.headers["x-forwarded-for"][*] eq "10.0.0.2")', True),
        ('all(http.request.headers["x-forwarded-for"][*] contains ".")', True),
        ('all(http.request.headers["x-forwarded-for"][*] eq "10.0.0.2")', False),
        ('any(http.request.headers["absent"][*] eq "")', False),
        ('all(http.request.headers["absent"][*] eq "x")', True),  # vacuously, as in Cloudflare
        ('any(lower(http.request.headers.names[*])[*] eq "x-api-key")', True),
        ('any(starts_with(http.request.headers.names[*], "x-") and http.request.method eq "GET")', True),
        ("any(len(http.request.headers.names[*]) ge 15)", True),
        ('any(http.request.headers.names[*] in {"cookie" "x"})', True),
        (
            'any(http.request.headers.names[*] eq "referer" and '
            'any(http.request.headers["x-forwarded-for"][*] eq "10.0.0.2"))',
            True,
        ),
    ],
)
def test_functions(expression: str, expected: bool) -> None:
    assert matches(expression) is expected


def test_url_decode_of_the_raw_path_catches_encoded_attacks() -> None:
    r = request(path="/search", query=b"q=%253Cscript%253E")
    assert matches('url_decode(http.request.uri.query) contains "<script>"', r)


# -- errors


@pytest.mark.parametrize(
    ("expression", "column", "fragment"),
    [
        ('http.host eq "a" and http.request.urii eq "/"', 22, "unknown field 'http.request.urii' (did you mean"),
        ('lowr(http.host) eq "a"', 1, "unknown function (did you mean 'lower'?)"),
        ("ip.src contains 1", 8, "'contains' does not work on an IP address"),
        ("http.host eq 1", 14, 'quote it: "1"'),
        ('cf.bot_management.score lt "30"', 28, "drop the quotes: 30"),
        ('http.host matches "(("', 19, "invalid regular expression"),
        ("ip.src in {10.0.0.0/8 10.0.0.1/8}", 23, "did you mean '10.0.0.0/8'?"),
        ("ip.src in {10.0.0.0/33}", 12, "invalid network"),
        ('(http.host eq "a"', 18, "missing ')' to close the '(' at column 1"),
        ('http.host eq "a")', 17, "unbalanced ')'"),
        ('http.host eq "a" http.host eq "b"', 18, "join conditions with 'and' or 'or'"),
        ('http.host equals "a"', 11, "unknown operator 'equals' (did you mean 'eq'?)"),
        ('http.host contians "a"', 11, "did you mean 'contains'?"),
        ('http.host eq "a" AND true', 18, "operators are lower case: write 'and'"),
        ('http.host not in {"a"}', 11, "write 'not' before the whole comparison"),
        ('http.host in {"a", "b"}', 18, "separated by spaces, not commas"),
        ('http.host in "a"', 14, "'in' needs a set of values in braces"),
        ('http.host in {"a"', 18, "missing '}' to close the set opened at column 14"),
        ('http.host eq "unterminated', 14, "unterminated string"),
        (r'http.request.uri.path matches "\.php$"', 32, "unknown escape"),
        ("http.host", 1, "must be true or false"),
        ('http.host eq "a" and http.user_agent', 22, "'and' needs a condition"),
        ('http.request.headers.names[*] eq "x"', 1, "wrap the condition in any(…) or all(…)"),
        ("any(http.request.headers.names[*])", 5, "needs a condition on an array's elements"),
        ('http.host[*] eq "x"', 1, "http.host is not an array"),
        ('any(http.request.headers.names[*] eq http.request.headers["a"][*])', 38, "only one [*] per any()/all()"),
        ('http.request.headers eq "x"', 21, 'needs a name in brackets: http.request.headers["x-example"]'),
        ('http.host["x"] eq "x"', 1, "takes no"),
        ("ip.src eq 10.0.0.0/8", 11, "use a set: ip.src in {10.0.0.0/8}"),
        ("cf.bot_management.score lt 1 lt 2", 30, "comparisons do not chain"),
        ("cf.bot_management.score in {5..1}", 32, "upper bound of at least 5"),
        ('lower(http.host, "x") eq "a"', 1, "lower() takes 1 argument, got 2"),
        ('starts_with(http.request.body.size, "1")', 13, "starts_with() needs a string"),
        ("http.host = 1", 11, "write '==' or 'eq'"),
        ("", 1, "empty expression"),
        ("http.host eq", 13, "ends too early"),
        ("edgeplane.user.mfa lt true", 20, "does not work on a boolean"),
        ('http.host wildcard "*.example.com"', 11, "'wildcard' is not supported"),
    ],
)
def test_errors_point_at_the_column_and_say_the_fix(expression: str, column: int, fragment: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        compile_expression(expression)
    error = caught.value
    assert fragment in error.message
    assert error.column == column, str(error)
    assert str(error) == f"column {column}: {error.message}"


def test_rule_syntax_error_is_a_value_error_and_pickles() -> None:
    with pytest.raises(ValueError, match=r"^column 1: unknown field 'http\.request\.urii'"):
        compile_expression('http.request.urii eq "/"')
    copy = pickle.loads(pickle.dumps(RuleSyntaxError(3, "boom")))
    assert (copy.column, copy.message, str(copy)) == (3, "boom", "column 3: boom")


def nested(depth: int) -> str:
    """A true condition nesting exactly ``depth`` levels, cycling through parentheses, any() and all()."""
    if depth == 0:
        return "true"
    inner = nested(depth - 1)
    return [
        f"({inner})",
        f'any(http.request.headers["host"][*] ne "" and {inner})',
        f'all(http.request.headers["host"][*] ne "" and {inner})',
    ][depth % 3]


def test_nesting_is_bounded_with_a_clear_error() -> None:
    assert compile_expression("(" * MAX_DEPTH + "true" + ")" * MAX_DEPTH)(request())
    assert compile_expression("not " * MAX_DEPTH + "false")(request()) is (MAX_DEPTH % 2 == 1)
    assert compile_expression("lower(" * MAX_DEPTH + '"A"' + ")" * MAX_DEPTH + ' eq "a"')(request())
    assert compile_expression(nested(MAX_DEPTH))(request())  # the deepest generated Python still compiles
    with pytest.raises(RuleSyntaxError, match=f"nests deeper than {MAX_DEPTH} levels"):
        compile_expression("(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(RuleSyntaxError, match="nests deeper than"):
        compile_expression("!" * 10_000 + "true")
    with pytest.raises(RuleSyntaxError, match="nests deeper than"):
        compile_expression(nested(MAX_DEPTH + 1))


def test_long_flat_chains_compile() -> None:
    chain = " or ".join(f'http.request.uri.path eq "/p{i}"' for i in range(3000))
    assert compile_expression(chain)(request(path="/p2999"))
    big_set = "ip.src in {" + " ".join(f"10.{i // 256}.{i % 256}.0/24" for i in range(5000)) + "}"
    assert compile_expression(big_set)(request(ip="10.19.135.7"))


# -- robustness and safety

FRAGMENTS = [
    "http.host", "ip.src", "cf.bot_management.score", "http.request.headers", "http.request.headers.names",
    "edgeplane.user.mfa", "any", "all", "lower", "len", "concat", "starts_with", "(", ")", "[", "]", "[*]", "{", "}",
    ",", "..", '"x"', 'r"a\\d"', 'r#"q"#', '"\\"', "1", "0", "10.0.0.0/8", "::1", "2001:db8::/32", "1.2.3.4/40",
    "eq", "==", "ne", "lt", "<", ">=", "contains", "matches", "~", "in", "and", "or", "xor", "not", "!", "&&",
    "||", "^^", "true", "false", '"(("', "=", "&", "$", "'", "\\", "\x00", "é", "\n", " ",
]  # fmt: skip


def test_random_garbage_raises_only_rule_syntax_errors() -> None:
    rng = random.Random(6)
    r = request()
    compiled = 0
    for _ in range(3000):
        text = " ".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.3:
            text = text.replace(" ", "")
        try:
            rule = compile_expression(text)
        except RuleSyntaxError as error:
            assert 1 <= error.column <= len(text) + 1
            continue
        compiled += 1
        assert type(rule(r)) is bool
    assert compiled > 0


def test_mutated_valid_rules_raise_only_rule_syntax_errors() -> None:
    seed = 'any(lower(http.request.headers.names[*])[*] in {"x-a" "b"}) or (ip.src in {10.0.0.0/8} && !(x ~ r"\\d"))'
    seed = seed.replace("x ~", "http.user_agent ~")
    rng = random.Random(7)
    alphabet = seed + '"\\[]{}()*.,:/#'
    r = request()
    for _ in range(3000):
        chars = list(seed)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(chars))
            if rng.random() < 0.5:
                del chars[at]
            else:
                chars.insert(at, rng.choice(alphabet))
        try:
            rule = compile_expression("".join(chars))
        except RuleSyntaxError:
            continue
        assert type(rule(r)) is bool


@pytest.mark.parametrize(
    "payload",
    [
        '"); import os; ("',
        "'); __import__('os').system('false'); ('",
        "\\n__import__('os')\\n",
        "{r}",
        "{key}",
        '"""',
    ],
)
def test_string_literals_are_only_strings(payload: str) -> None:
    literal = '"' + payload.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert matches(f"http.request.uri.path eq {literal}", request(path=payload))
    assert not matches(f"http.request.uri.path eq {literal}", request(path="/"))
    assert matches(f'http.request.headers[{literal}] eq "v"', request(headers=((payload, "v"),)))
    assert matches(f'http.request.cookies[{literal}] eq ""')
    assert matches(f'http.request.method in {{{literal} "GET"}}')


def test_raw_strings_cannot_break_out_either() -> None:
    assert matches('http.request.uri.path eq r#"x"); import os; ("x"#', request(path='x"); import os; ("x'))


def test_compiled_rules_have_no_builtins_to_reach() -> None:
    rule = compile_expression("true")
    assert set(rule.__globals__["__builtins__"]) == {"any", "all", "len"}


# -- fields_used


def test_fields_used_lists_what_the_gateway_must_prepare() -> None:
    text = (
        'http.request.headers["x-a"] eq "1" and any(http.request.headers.names[*] eq "b") '
        "and http.request.body.size gt 10 and not edgeplane.user.mfa or cf.bot_management.score lt 5"
    )
    used = fields_used(text)
    assert used == {
        "http.request.headers",
        "http.request.headers.names",
        "http.request.body.size",
        "edgeplane.user.mfa",
        "cf.bot_management.score",
    }
    assert used & BODY_FIELDS and used & IDENTITY_FIELDS and used & BOT_FIELDS
    assert fields_used("true") == frozenset()
    assert not fields_used('starts_with(http.request.uri.path, "/a")') & (BODY_FIELDS | IDENTITY_FIELDS | BOT_FIELDS)
    with pytest.raises(RuleSyntaxError):
        fields_used("http.nope eq 1")


def test_every_listed_field_compiles() -> None:
    for name, spec in FIELDS.items():
        field = f'{name}["x"]' if spec.indexed else name
        expression = {
            "string": f'{field} eq ""',
            "int": f"{field} ge 0",
            "ip": f"{field} in {{0.0.0.0/0 ::/0}}",
            "bool": field,
            "array": f"len({field}) ge 0",
        }[spec.kind]
        assert type(compile_expression(expression)(request())) is bool, name


def test_a_rule_list_compiled_as_one_function_finds_what_the_rules_find_one_by_one() -> None:
    texts = [
        'http.request.uri.path contains "/admin"',
        'http.request.method in {"POST" "PUT"}',
        "ip.src in {10.0.0.0/8}",
        'any(http.request.headers["x-tag"][*] eq "a") and not edgeplane.user.mfa',
        'lower(http.user_agent) matches "(bot|crawler)"',
        "len(http.request.uri.query) gt 5",
        "true",
    ]
    first = compile_first_match(texts)
    one_by_one = [compile_expression(t) for t in texts]
    requests = [
        request(path="/admin/x"),
        request(method="POST", path="/a", ip="10.1.2.3"),
        request(headers=(("x-tag", "a"), ("user-agent", "GoodBot/1.0"))),
        request(path="/q", query=b"abcdefgh"),
        request(),
    ]
    for r in requests:
        expected = [i for i, rule in enumerate(one_by_one) if rule(r)]
        found, start = [], 0
        while (index := first(r, start)) >= 0:
            found.append(index)
            start = index + 1
        assert found == expected
