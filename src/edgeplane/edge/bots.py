"""Bot scoring (``cf.bot_management.score`` semantics) and the cookie challenge that lets humans through.

Score: 1 = almost certainly automated … 99 = human; below 30 is "likely bot". The score is 99 minus the
penalties below (floored at 1), deterministic for the same request and history. Weights:

=========================  =======  ===================================================================
reason                     penalty  when
=========================  =======  ===================================================================
``ua_missing``             80       no or empty ``User-Agent``
``ua_tool:<name>``         90       an HTTP library or CLI (curl, wget, python-requests, Go-http-client…)
``ua_headless:<name>``     85       a driven browser (HeadlessChrome, Puppeteer, Playwright, PhantomJS…)
``crawler:<name>``         90       a known crawler's name (Googlebot, bingbot…): a bot, tagged so rules
                                    and logs can tell it apart (the name is claimed, not reverse-DNS checked)
``ua_botlike``             70       other crawler conventions (``…bot/``, ``spider``, ``crawler``, ``+http``)
``ua_not_browser``         50       any other agent that does not start like a browser's (``Mozilla/``)
``no_accept``              15       no ``Accept`` (every browser sends one)
``no_accept_language``     30       no ``Accept-Language`` (browsers send it on every request; libraries don't)
``no_accept_encoding``     15       no ``Accept-Encoding``
``header_order``           15       ``Accept-Encoding`` before ``Accept`` (browsers send Accept first;
                                    python-requests, Go and most libraries do the opposite)
``no_sec_fetch``           15       a browser user agent without ``Sec-Fetch-Mode`` (sent by Chrome 76+,
                                    Firefox 90+, Safari 16.4+ on HTTPS — so plain-HTTP browsers lose 15-25)
``no_client_hints``        10       a Chromium user agent (``Chrome/``) without ``Sec-CH-UA``
``rate:<n>/s``             10/40/60 the client IP sent more than 10/20/50 requests per second, averaged over
                                    the sliding ``window`` (two-bucket sliding-window counter per IP)
=========================  =======  ===================================================================

A full browser request scores 99, a browser on plain HTTP 74-84, curl or python-requests 1, a library
faking a Chrome user agent ~29.

Challenge round trip (``Challenge``): when a policy challenges a request that does not carry a valid
``__ep_challenge`` cookie, the gateway answers ``challenge_page()``: 403 with ``Edgeplane-Challenge:
cookie``, ``Set-Cookie: __ep_challenge=<ts>.<mac>; Path=/; HttpOnly; SameSite=Lax; Max-Age=<ttl>`` and
a tiny HTML page that reloads itself after a second (``<meta http-equiv="refresh">``). A client that keeps
cookies comes back with the cookie; ``passed()``/``valid()`` checks it (HMAC-SHA256 over ``ip|ua|ts``,
base64url, constant-time compare, younger than ``ttl``) and the request goes on. The cookie is bound to
the client IP and user agent, so it cannot be minted once and shared by a bot fleet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from edgeplane.edge.request import EdgeRequest

__all__ = ["COOKIE_NAME", "BotScorer", "Challenge"]

COOKIE_NAME = "__ep_challenge"

_TOOLS = (
    ("curl/", "curl"), ("wget", "wget"), ("python-requests", "python-requests"), ("python-urllib", "python-urllib"),
    ("python-httpx", "httpx"), ("aiohttp", "aiohttp"), ("go-http-client", "Go-http-client"), ("okhttp", "okhttp"),
    ("java/", "java"), ("apache-httpclient", "apache-httpclient"), ("libwww-perl", "libwww-perl"),
    ("axios/", "axios"), ("node-fetch", "node-fetch"), ("undici", "undici"), ("scrapy", "scrapy"),
    ("httpie", "httpie"), ("postmanruntime", "postman"), ("guzzlehttp", "guzzle"), ("powershell", "powershell"),
)  # fmt: skip
_HEADLESS = (
    ("headlesschrome", "HeadlessChrome"), ("puppeteer", "Puppeteer"), ("playwright", "Playwright"),
    ("phantomjs", "PhantomJS"), ("selenium", "Selenium"), ("webdriver", "WebDriver"),
)  # fmt: skip
_CRAWLERS = (
    ("googlebot", "Googlebot"), ("bingbot", "bingbot"), ("duckduckbot", "DuckDuckBot"), ("baiduspider", "Baiduspider"),
    ("yandexbot", "YandexBot"), ("applebot", "Applebot"), ("slurp", "Yahoo Slurp"),
    ("facebookexternalhit", "facebookexternalhit"), ("twitterbot", "Twitterbot"), ("linkedinbot", "LinkedInBot"),
    ("gptbot", "GPTBot"), ("claudebot", "ClaudeBot"), ("ccbot", "CCBot"), ("ahrefsbot", "AhrefsBot"),
    ("semrushbot", "SemrushBot"), ("petalbot", "PetalBot"),
)  # fmt: skip
_BOTLIKE = ("bot/", "bot;", "bot)", "spider", "crawler", "scraper", "+http")
_RATE_TIERS = ((50.0, 60), (20.0, 40), (10.0, 10))
_CLOCK_SKEW = 60.0
"""How far in the future a challenge cookie's timestamp may be (gateways' clocks differ slightly)."""


@dataclass(frozen=True, slots=True)
class _Agent:
    """What the user agent alone says: its penalty and reasons, and which header checks apply."""

    penalty: int
    reasons: tuple[str, ...]
    browser: bool
    chromium: bool


def _first_match(ua: str, table: tuple[tuple[str, str], ...]) -> str:
    for needle, name in table:
        if needle in ua:
            return name
    return ""


def _agent(user_agent: str) -> _Agent:
    ua = user_agent.strip().lower()
    if not ua:
        return _Agent(80, ("ua_missing",), browser=False, chromium=False)
    for table, prefix, penalty in ((_CRAWLERS, "crawler", 90), (_HEADLESS, "ua_headless", 85), (_TOOLS, "ua_tool", 90)):
        name = _first_match(ua, table)
        if name:
            return _Agent(penalty, (f"{prefix}:{name}",), browser=False, chromium=False)
    if any(needle in ua for needle in _BOTLIKE):
        return _Agent(70, ("ua_botlike",), browser=False, chromium=False)
    if not ua.startswith("mozilla/"):
        return _Agent(50, ("ua_not_browser",), browser=False, chromium=False)
    return _Agent(0, (), browser=True, chromium="chrome/" in ua)


@lru_cache(maxsize=8192)
def _verdict(
    user_agent: str, accept: bool, language: bool, encoding: bool, sec_fetch: bool, client_hints: bool, order: bool
) -> tuple[int, tuple[str, ...]]:
    """Penalty and reasons of everything but the rate: a function of the user agent and which headers came."""
    agent = _agent(user_agent)
    checks = (
        (not accept, "no_accept", 15),
        (not language, "no_accept_language", 30),
        (not encoding, "no_accept_encoding", 15),
        (accept and order, "header_order", 15),
        (agent.browser and not sec_fetch, "no_sec_fetch", 15),
        (agent.chromium and not client_hints, "no_client_hints", 10),
    )
    failed = [(reason, weight) for fails, reason, weight in checks if fails]
    return agent.penalty + sum(w for _, w in failed), agent.reasons + tuple(r for r, _ in failed)


def _encoding_before_accept(all_headers: list[tuple[bytes, bytes]]) -> bool:
    for name, _ in all_headers:
        if name == b"accept":
            return False
        if name == b"accept-encoding":
            return True
    return False


class BotScorer:
    """Scores requests 1..99; keeps a request-rate counter per client IP (at most ``max_clients`` IPs)."""

    def __init__(self, *, window: float = 10.0, max_clients: int = 100_000) -> None:
        if window <= 0 or max_clients <= 0:
            raise ValueError("BotScorer window and max_clients must be positive")
        self._window = window
        self._max_clients = max_clients
        self._clients: dict[str, list[float]] = {}
        """ip -> [window index, previous window's count, this window's count]."""

    def score(self, request: EdgeRequest, now: float) -> int:
        """The request's bot score (counts the request toward its IP's rate)."""
        return self.score_with_reasons(request, now)[0]

    def score_with_reasons(self, request: EdgeRequest, now: float) -> tuple[int, tuple[str, ...]]:
        """The score and the reasons that lowered it (empty for a clean browser request), for logs."""
        headers = request.headers
        penalty, reasons = _verdict(
            request.user_agent,
            b"accept" in headers,
            b"accept-language" in headers,
            b"accept-encoding" in headers,
            b"sec-fetch-mode" in headers,
            b"sec-ch-ua" in headers,
            _encoding_before_accept(request.all_headers),
        )
        rate = self._rate(request.ip, now)
        if rate > _RATE_TIERS[-1][0]:
            weight = next(weight for threshold, weight in _RATE_TIERS if rate > threshold)
            return max(1, 99 - penalty - weight), (*reasons, f"rate:{rate:.0f}/s")
        return max(1, 99 - penalty), reasons

    def _rate(self, ip: str, now: float) -> float:
        """Count this request and return the IP's requests per second over the sliding window."""
        position = now / self._window
        index = float(int(position))
        state = self._clients.get(ip)
        if state is None or state[0] < index:
            previous = state[2] if state is not None and state[0] == index - 1 else 0.0
            state = [index, previous, 0.0]
            self._clients.pop(ip, None)
            self._clients[ip] = state
            if len(self._clients) > self._max_clients:
                del self._clients[next(iter(self._clients))]
        state[2] += 1
        return (state[1] * (1.0 - (position - index)) + state[2]) / self._window


class Challenge:
    """Issues and checks the ``__ep_challenge`` cookie; see the module docstring for the round trip."""

    def __init__(self, secret: bytes, ttl: float = 3600) -> None:
        if len(secret) < 32:
            raise ValueError("challenge secret must be at least 32 bytes: use e.g. secrets.token_bytes(32)")
        if ttl <= 0:
            raise ValueError("challenge ttl must be positive (seconds a passed challenge is remembered)")
        self._secret = secret
        self._ttl = ttl

    def issue(self, ip: str, user_agent: str, now: float) -> str:
        """A cookie value ``<unix seconds>.<base64url HMAC-SHA256 of ip|ua|ts>`` for this client."""
        ts = int(now)
        return f"{ts}.{self._mac(ip, user_agent, ts)}"

    def valid(self, cookie: str, ip: str, user_agent: str, now: float) -> bool:
        """Whether ``cookie`` was issued by us to this ip and user agent less than ``ttl`` seconds ago."""
        ts_text, _, mac = cookie.partition(".")
        if not (ts_text.isascii() and ts_text.isdigit()) or len(ts_text) > 12:
            return False
        ts = int(ts_text)
        if now - ts >= self._ttl or ts > now + _CLOCK_SKEW:
            return False
        expected = self._mac(ip, user_agent, ts).encode("ascii")
        return hmac.compare_digest(mac.encode("utf-8", "surrogatepass"), expected)

    def passed(self, request: EdgeRequest, now: float) -> bool:
        """Whether the request carries a valid challenge cookie."""
        cookie = request.cookies.get(COOKIE_NAME)
        return cookie is not None and self.valid(cookie, request.ip, request.user_agent, now)

    def challenge_page(
        self, ip: str, user_agent: str, now: float, *, secure: bool = False
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, headers, body) of the challenge answer; ``secure`` adds ``Secure`` to the cookie (HTTPS)."""
        cookie = (
            f"{COOKIE_NAME}={self.issue(ip, user_agent, now)}; Path=/; HttpOnly; SameSite=Lax; Max-Age={int(self._ttl)}"
        )
        if secure:
            cookie += "; Secure"
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(_PAGE)).encode("ascii")),
            (b"cache-control", b"no-store"),
            (b"edgeplane-challenge", b"cookie"),
            (b"set-cookie", cookie.encode("latin-1")),
        ]
        return 403, headers, _PAGE

    def _mac(self, ip: str, user_agent: str, ts: int) -> str:
        message = f"{ip}|{user_agent}|{ts}".encode("utf-8", "surrogatepass")
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_PAGE = (
    b'<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="1">'
    b'<meta name="robots" content="noindex"><title>Checking your browser</title></head>'
    b"<body><p>Checking your browser&hellip; this page reloads by itself. Cookies must be enabled.</p></body></html>"
)
