"""Managed WAF rules: an OWASP-CRS-like rule set at paranoia level 1 with anomaly scoring.

``ManagedRules.inspect`` looks at the decoded path, every query parameter (name and value), the body (JSON
keys and string values, urlencoded or multipart form fields, else the raw text), cookies, the User-Agent and
Referer headers (the Referer's own query parameters too), and any other header carrying a ``${`` lookup. Every
matching rule adds its severity once (critical 5, error 4, warning 3, notice 2); the request is blocked when the
total reaches the threshold (5: one critical match blocks, weaker signals must add up).

Each value is lower-cased and checked as is and in the decoded forms attackers layer on to slip past filters: a
second URL-decoding pass (double encoding), HTML entities, ``\\uXXXX``/``\\xXX`` escapes, IIS ``%uXXXX`` and
overlong UTF-8 dots and slashes, Unicode compatibility forms (full-width ``\\uff1c``), SQL comments removed or turned
into spaces (``un/**/ion``, ``union/**/select``), tabs and newlines inside ``java\\tscript:``, and for short
values shell quoting removed (``w'h'o'am'i``).

The hot path is tiered so that ordinary traffic costs little: identifiers, numbers, slugs, dates and e-mail
addresses are skipped outright; text made only of letters, digits, spaces and everyday punctuation (names,
addresses, most prose) is checked only by the forms whose triggers such text can contain; everything else gets
every form. Nothing is cached between requests. The patterns live in ``managed_patterns``.
"""

from __future__ import annotations

import html
import re
import string
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

import orjson

from edgeplane.edge.managed_patterns import (
    ARGS,
    CATEGORIES,
    GUARDS,
    HEADER,
    NUMBER,
    PATH,
    QUOTE,
    RULES,
    SCANNER_AGENTS,
    SEARCH,
    START,
    Form,
    Rule,
)
from edgeplane.edge.request import EdgeRequest

__all__ = ["ManagedMatch", "ManagedResult", "ManagedRules"]


@dataclass(frozen=True, slots=True)
class ManagedMatch:
    """One rule that matched: its id, category, score and where in the request it matched first."""

    rule_id: str
    category: str
    score: int
    where: str
    """``path``, ``query``, ``body``, ``cookie`` or ``header:<name>``."""


@dataclass(frozen=True, slots=True)
class ManagedResult:
    score: int
    matches: tuple[ManagedMatch, ...]
    blocked: bool
    """``score >= threshold``."""


_CLEAN = ManagedResult(0, (), False)
_PLAIN = (string.ascii_letters + string.digits + "_-.:@").encode()
"""A value made only of these (an id, a slug, a date, an e-mail address) cannot carry any rule's payload."""
_SIMPLE = _PLAIN + b" \t\r\n,!?'\"()/;=" + bytes(range(0x80, 0x100))
"""Everyday text, URLs and User-Agents (in UTF-8, so any non-ASCII letter too): a value made only of these gets
just the forms whose triggers it can contain, and of the decodings only those such text can need (no ``%``,
``&``, ``\\`` or ``*``). Both sets are tested with ``bytes.translate``, which deletes a byte set in one pass."""
_SCANNER_HEADERS = frozenset(
    {b"acunetix-aspect", b"acunetix-aspect-password", b"acunetix-aspect-queries", b"x-wipp", b"x-scan-memo"}
)
_SKIPPED_HEADERS = frozenset({b"user-agent", b"referer", b"cookie"})
"""Inspected on their own; every other header is checked only for a ``${`` lookup (Log4Shell was sprayed into
all of them)."""
_PCT = re.compile(r"%[0-9a-f]{2}")
_LEGACY = re.compile(r"%(?:u([0-9a-f]{4})|c0%(?:ae|2e|af)|e0%80%(?:ae|af)|c1%(?:9c|1c))", re.IGNORECASE)
_LEGACY_CHARS = {"c0%ae": ".", "c0%2e": ".", "e0%80%ae": ".", "c0%af": "/", "e0%80%af": "/"}
_JS_ESCAPE = re.compile(r"\\u([0-9a-f]{4})|\\x([0-9a-f]{2})")
_COMMENT = re.compile(r"/\*!?\d*|\*/")
_SHELL_QUOTING = re.compile(r"['\"\\^]|\$@")
_ENTITY_HINTS = ("&#", "&lt", "&gt", "&quot", "&apos", "&colon", "&tab", "&newline", "&lpar", "&sol")
_LINE_BREAKS = str.maketrans("", "", "\t\r\n")
_MAX_SHELL_VARIANT = 256
"""Shell-quoting removal only for values up to this length: the evasion (``c'a't``) lives in short parameters,
and prose with apostrophes would otherwise be scanned twice."""
_FORM = "application/x-www-form-urlencoded"
_JSON_STRING = re.compile(rb'"[\w.:@\-]*+"|"([^"]*)"')
"""In a JSON text without backslashes every ``"`` delimits a string: this finds the strings that are not plain
(group 1; empty for the plain ones, which the first alternative consumes) in one pass."""
_LEADING_NUMBER = re.compile(r"\s*-?\d+(?:\.\d+)?\s*\)*\s*")
_NUMBER_LEADS = frozenset("-0123456789 \t")

_Hits = dict[str, ManagedMatch]
_Keyed = tuple[tuple[str, re.Pattern[str]], ...]


# ---------------------------------------------------------------------------------------------------- compiling
@dataclass(frozen=True, slots=True)
class _Compiled:
    """The active forms for one target, compiled: one regex per ``START`` key, per ``SEARCH`` trigger, and one each
    for ``NUMBER`` and ``QUOTE``."""

    starts: _Keyed
    number: re.Pattern[str] | None
    quote: re.Pattern[str] | None
    searches: _Keyed
    simple: tuple[_Keyed, _Keyed]
    """The starts and searches ``_SIMPLE`` text can match (one of their characters can occur in it)."""
    simple_gate: re.Pattern[str]
    """Finds anything in ``_SIMPLE`` text a form could start at (a quote, a trigger passing its guard, a start's
    needed character); most names, addresses and short notes have none, and one search settles it."""


def _alternation(forms: list[tuple[str, Form]]) -> str:
    return "(?:" + "|".join(f"(?P<{group}>{form.tail})" for group, form in forms) + ")"


def _compile(forms: list[tuple[str, Form]]) -> _Compiled:
    """``forms`` are (regex group name, form); forms sharing an anchor and key become one alternation."""
    grouped: dict[tuple[str, str], list[tuple[str, Form]]] = {}
    for group, form in forms:
        grouped.setdefault((form.anchor, form.key), []).append((group, form))
    starts = tuple((key, re.compile(_alternation(fs))) for (anchor, key), fs in grouped.items() if anchor == START)
    searches = tuple(
        (key, re.compile(re.escape(key) + GUARDS.get(key, "") + _alternation(fs)))
        for (anchor, key), fs in grouped.items()
        if anchor == SEARCH
    )
    number = grouped.get((NUMBER, ""))
    quote = grouped.get((QUOTE, ""))
    simple_chars = _SIMPLE.lower().decode("latin-1")
    simple_starts = tuple((needs, rx) for k, rx in starts if (needs := "".join(c for c in k if c in simple_chars)))
    simple_searches = tuple((k, rx) for k, rx in searches if not k.encode().translate(None, _SIMPLE))
    gate = ["'", '"'] + [re.escape(k) + GUARDS.get(k, "") for k, _ in simple_searches]
    gate += [re.escape(c) for needs, _ in simple_starts for c in needs]
    return _Compiled(
        starts=starts,
        number=re.compile(GUARDS[NUMBER] + _alternation(number)) if number else None,
        quote=re.compile("['\"]" + GUARDS[QUOTE] + _alternation(quote)) if quote else None,
        searches=searches,
        simple=(simple_starts, simple_searches),
        simple_gate=re.compile("|".join(dict.fromkeys(gate))),
    )


# ----------------------------------------------------------------------------------------------------- decoding
def _legacy_decode(text: str) -> str:
    """IIS ``%uXXXX`` and overlong UTF-8 dots and slashes, which ``unquote`` turns into replacement characters."""

    def one(m: re.Match[str]) -> str:
        return chr(int(m[1], 16)) if m[1] else _LEGACY_CHARS.get(m[0][1:].lower(), "\\")

    return _LEGACY.sub(one, text)


def _decode_param(text: str) -> str:
    if "%" in text:
        if _LEGACY.search(text):
            text = _legacy_decode(text)
        return unquote_plus(text, errors="replace")
    return text.replace("+", " ") if "+" in text else text


def _params(text: str) -> Iterator[tuple[str, str]]:
    """(name, value) pairs of an ``a=1&b=2`` string, each URL-decoded once."""
    for part in text.split("&"):
        name, _, value = part.partition("=")
        yield _decode_param(name), _decode_param(value)


def _decoded(low: str) -> str:
    """``low`` with every encoding an attacker layers on top of the transport's decoded."""
    text = low
    if "%" in text and _PCT.search(text):
        text = unquote(text, errors="replace")
    if "&" in text and any(h in text for h in _ENTITY_HINTS):
        text = html.unescape(text)
    if "\\" in text and ("\\u" in text or "\\x" in text):
        text = _JS_ESCAPE.sub(lambda m: chr(int(m[1] or m[2], 16)), text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).lower()
    return text


def _joined_scheme(text: str) -> str | None:
    """``text`` without tabs and line breaks when that spells a ``…script:`` URI (browsers drop them)."""
    if ":" in text and ("\t" in text or "\n" in text or "\r" in text):
        joined = text.translate(_LINE_BREAKS)
        for scheme in ("javascript:", "vbscript:"):
            if scheme in joined and scheme not in text:
                return joined
    return None


def _has_shell_quoting(text: str) -> bool:
    """Quotes, backslashes or carets beside a shell separator: ``;w'h'o'am'i``, ``|c\\at``."""
    quoting = "'" in text or '"' in text or "\\" in text or "^" in text or "$@" in text
    return quoting and (";" in text or "|" in text or "&" in text or "`" in text or "$(" in text)


def _variants(low: str) -> list[str]:
    """The decoded forms of ``low`` worth a scan of their own (usually none)."""
    out: list[str] = []
    text = _decoded(low)
    if text != low:
        out.append(text)
    if "/*" in text:
        out += (_COMMENT.sub("", text), _COMMENT.sub(" ", text))
    joined = _joined_scheme(text)
    if joined is not None:
        out.append(joined)
    if len(text) <= _MAX_SHELL_VARIANT and _has_shell_quoting(text):
        out.append(_SHELL_QUOTING.sub("", text))
    return out


# ------------------------------------------------------------------------------------------------- body formats
def _json_texts(body: bytes) -> list[str]:
    """Keys and string values of a JSON body (one with escapes in it); the raw text when the body does not parse
    (a truncated body)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [body.decode("utf-8", "replace")]
    out: list[str] = []
    _collect_strings(document, out)
    return out


def _collect_strings(node: object, out: list[str]) -> None:
    """Keys and string values, leaving out the identifiers and alphanumeric ones (most of them) early."""
    if type(node) is dict:
        for key, value in node.items():
            if not key.isidentifier():
                out.append(key)
            if type(value) is str:
                if not (value.isalnum() or value.isidentifier()):
                    out.append(value)
            elif type(value) is dict or type(value) is list:
                _collect_strings(value, out)
    elif type(node) is list:
        for item in node:
            if type(item) is str:
                out.append(item)
            elif type(item) is dict or type(item) is list:
                _collect_strings(item, out)
    elif type(node) is str:
        out.append(node)


def _multipart_texts(body: bytes, content_type: str) -> Iterator[str]:
    """The text of each multipart part (field values and text files) and each file name."""
    boundary = content_type.partition("boundary=")[2].split(";")[0].strip().strip('"')
    if not boundary:
        yield body.decode("utf-8", "replace")
        return
    for part in body.split(b"--" + boundary.encode("latin-1")):
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        _, has_name, filename = head.decode("latin-1").partition("filename=")
        if has_name:
            yield filename.split(";")[0].strip().strip('"')
        try:
            yield content.removesuffix(b"\r\n").decode("utf-8")
        except UnicodeDecodeError:
            continue  # binary file content: nothing the text rules could judge


# ------------------------------------------------------------------------------------------------------ the rules
class ManagedRules:
    """The managed rule set, configured once and shared by every request (``inspect`` keeps no state)."""

    def __init__(
        self, *, threshold: int = 5, categories: frozenset[str] | None = None, exclude: frozenset[str] = frozenset()
    ) -> None:
        if threshold < 1:
            raise ValueError(f"managed rules threshold must be at least 1, got {threshold}")
        unknown = (categories or frozenset()) - CATEGORIES
        if unknown:
            raise ValueError(f"unknown managed rule categories {sorted(unknown)}; valid: {sorted(CATEGORIES)}")
        ids = {r.rule_id for r in RULES}
        if exclude - ids:
            raise ValueError(
                f"unknown managed rule ids in exclude: {sorted(exclude - ids)}; "
                "the ids are listed in edgeplane.edge.managed_patterns.RULES"
            )
        self.threshold = threshold
        active = [r for r in RULES if r.rule_id not in exclude and (categories is None or r.category in categories)]
        self._active = {r.rule_id: r for r in active}
        self._group_rule: dict[str, Rule] = {}
        per_target: dict[int, list[tuple[str, Form]]] = {ARGS: [], HEADER: [], PATH: []}
        for rule in active:
            for form in rule.forms:
                group = f"g{len(self._group_rule)}"
                self._group_rule[group] = rule
                for target, forms in per_target.items():
                    if form.targets & target:
                        forms.append((group, form))
        self._args = _compile(per_target[ARGS])
        self._header = _compile(per_target[HEADER])
        self._path = _compile(per_target[PATH])

    def inspect(self, request: EdgeRequest) -> ManagedResult:
        hits: _Hits = {}
        self._inspect_path(request.path, hits)
        if request.raw_query:
            self._inspect_params(self._args, request.raw_query.decode("latin-1"), "query", hits)
        if request.body:
            self._inspect_body(request, hits)
        if request.cookie:
            for name, value in request.cookies.items():
                if not name.isidentifier():
                    self._inspect_value(self._args, name, "cookie", hits)
                self._inspect_value(self._args, unquote(value) if "%" in value else value, "cookie", hits)
        self._inspect_headers(request, hits)
        if not hits:
            return _CLEAN
        score = sum(m.score for m in hits.values())
        return ManagedResult(score, tuple(hits.values()), score >= self.threshold)

    # ------------------------------------------------------------------------------------------------- locations
    def _inspect_path(self, path: str, hits: _Hits) -> None:
        if "." not in path and path.isascii() and not path.encode().translate(None, _PLAIN + b"/"):
            return
        low = path.lower()
        for text in (low, *_variants(low)):
            self._scan(self._path, text, "path", hits)
            for segment in text.split("/"):
                if not segment.isascii() or segment.encode().translate(None, _PLAIN):
                    self._scan(self._args, segment, "path", hits)

    def _inspect_params(self, rules: _Compiled, text: str, where: str, hits: _Hits) -> None:
        for name, value in _params(text):
            if not (name.isidentifier() or name.isalnum()):  # a dotted name (class.module.classLoader) is not plain
                self._inspect_text(rules, name, where, hits)
            self._inspect_value(rules, value, where, hits)

    def _inspect_body(self, request: EdgeRequest, hits: _Hits) -> None:
        body = request.body
        content_type = request.headers.get(b"content-type", b"").decode("latin-1").lower()
        if content_type.startswith(_FORM):
            self._inspect_params(self._args, body.decode("utf-8", "replace"), "body", hits)
            return
        texts: Iterable[str]
        if content_type.startswith("multipart/form-data"):
            texts = _multipart_texts(body, content_type)
        elif "json" in content_type or body.lstrip()[:1] in (b"{", b"["):
            if b"\\" not in body:
                self._inspect_json_strings(_JSON_STRING.findall(body), hits)
                return
            texts = _json_texts(body)  # also JSON sent as text/plain, which many backends parse anyway
        else:
            texts = (body.decode("utf-8", "replace"),)
        for text in texts:
            self._inspect_value(self._args, text, "body", hits)

    def _inspect_json_strings(self, strings: list[bytes], hits: _Hits) -> None:
        """The non-plain strings of an escape-free JSON text (keys and values alike), empty entries skipped."""
        for raw in strings:
            if raw:
                simple = not raw.translate(None, _SIMPLE) if raw.isascii() else None
                self._inspect_text(self._args, raw.decode("utf-8", "replace"), "body", hits, simple)

    def _inspect_headers(self, request: EdgeRequest, hits: _Hits) -> None:
        headers = request.headers
        agent = headers.get(b"user-agent")
        if agent:
            low = agent.decode("latin-1").lower()
            for mark in SCANNER_AGENTS:
                if mark in low:
                    self._hit("scanner-601", "header:user-agent", hits)
                    break
            self._inspect_value(self._header, low, "header:user-agent", hits)
        referer = headers.get(b"referer")
        if referer:
            url = referer.decode("latin-1")
            self._inspect_value(self._header, url, "header:referer", hits)
            if "?" in url:
                self._inspect_params(self._header, url.partition("?")[2], "header:referer", hits)
        if b"${" in b"\n".join(headers.values()):
            for name, value in request.all_headers:
                if b"${" in value and name not in _SKIPPED_HEADERS:
                    where = f"header:{name.decode('latin-1')}"
                    self._inspect_value(self._header, value.decode("latin-1"), where, hits)
        if not _SCANNER_HEADERS.isdisjoint(headers):
            scanner_header = min(_SCANNER_HEADERS.intersection(headers)).decode("latin-1")
            self._hit("scanner-602", f"header:{scanner_header}", hits)
        encoding = headers.get(b"transfer-encoding")
        if encoding is not None and (
            b"content-length" in headers or encoding.lower().rpartition(b",")[2].strip() != b"chunked"
        ):
            self._hit("protocol-702", "header:transfer-encoding", hits)

    # -------------------------------------------------------------------------------------------------- matching
    def _inspect_value(self, rules: _Compiled, text: str, where: str, hits: _Hits) -> None:
        """Skips plain values (ids, slugs, dates, e-mail addresses), inspects the rest."""
        if text.isalnum() or not text:
            return
        if text.isascii():
            special = text.encode().translate(None, _PLAIN)
            if special:
                self._inspect_text(rules, text, where, hits, simple=not special.translate(None, _SIMPLE))
            return
        self._inspect_text(rules, text, where, hits)

    def _inspect_text(self, rules: _Compiled, text: str, where: str, hits: _Hits, simple: bool | None = None) -> None:
        if simple is None:  # decomposable forms (a full-width less-than sign) need the decoding variants
            utf8 = text.encode()
            simple = not utf8.translate(None, _SIMPLE) and (utf8.isascii() or unicodedata.is_normalized("NFKC", text))
        low = text.lower()
        if simple:
            self._scan(rules, low, where, hits, simple=True)
            joined = _joined_scheme(low)
            if joined is not None:
                self._scan(rules, joined, where, hits)
            if len(low) <= _MAX_SHELL_VARIANT and _has_shell_quoting(low):
                self._scan(rules, _SHELL_QUOTING.sub("", low), where, hits)
            return
        self._scan(rules, low, where, hits)
        for variant in _variants(low):
            self._scan(rules, variant, where, hits)

    def _hit(self, rule_id: str, where: str, hits: _Hits) -> None:
        rule = self._active.get(rule_id)
        if rule is not None and rule_id not in hits:
            hits[rule_id] = ManagedMatch(rule_id, rule.category, rule.severity, where)

    def _record(self, m: re.Match[str], where: str, hits: _Hits) -> None:
        rule = self._group_rule[m.lastgroup or ""]
        if rule.rule_id not in hits:
            hits[rule.rule_id] = ManagedMatch(rule.rule_id, rule.category, rule.severity, where)

    def _scan(self, rules: _Compiled, text: str, where: str, hits: _Hits, *, simple: bool = False) -> None:
        """Every form of ``rules`` (or only those ``_SIMPLE`` text can match) against one lower-cased text."""
        if simple:
            if text[:1] not in _NUMBER_LEADS and not rules.simple_gate.search(text):
                return
            starts, searches = rules.simple
        else:
            starts, searches = rules.starts, rules.searches
        self._scan_anchored(rules, starts, text, where, hits)
        for trigger, rx in searches:
            if trigger in text:
                pos = 0
                while m := rx.search(text, pos):
                    self._record(m, where, hits)
                    pos = max(m.end(), pos + 1)

    def _scan_anchored(self, rules: _Compiled, starts: _Keyed, text: str, where: str, hits: _Hits) -> None:
        """The forms anchored at the start, after a leading number, and at the first quote."""
        for needs, rx in starts:
            for c in needs:
                if c in text:
                    if m := rx.match(text):
                        self._record(m, where, hits)
                    break
        if rules.number is not None and text[:1] in _NUMBER_LEADS:
            n = _LEADING_NUMBER.match(text)
            if n and (m := rules.number.match(text, n.end())):
                self._record(m, where, hits)
        if rules.quote is not None:
            q = text.find("'")
            d = text.find('"')
            if d >= 0 and (q < 0 or d < q):
                q = d
            if q >= 0 and (m := rules.quote.match(text, q)):
                self._record(m, where, hits)
