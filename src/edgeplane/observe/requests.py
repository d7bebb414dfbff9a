"""Request analytics: every request through the gateway becomes one point of the platform dataset
``edgeplane_requests``, and the dashboard questions (latency quantiles, throughput, error and cache hit rates, top
countries and colos, per-version breakdown) are SQL over it.

The observer runs inside the gateway's observe stage after the response is sent, so it never delays a response;
it only hands the point's fields to the analytics writer (``write_trusted``, about 1 µs a request), whose
background flush serializes them to the spool the platform's ``AnalyticsStore`` ingests. ``close()`` flushes
before the store's last ingest, so a clean shutdown loses no point.

Layout of a point (``timestamp`` is when the request finished):

=========  ==========================================  =========  =====================================
column     field                                       column     field
=========  ==========================================  =========  =====================================
index1     app (empty: no deployment answered)         double1    status
blob1      env                                         double2    latency ms
blob2      version id                                  double3    bytes in (request body)
blob3      colo                                        double4    bytes out (response body)
blob4      country                                     double5    worker CPU ms (0: unknown)
blob5      method
blob6      route pattern (``(fallback)``, or empty)
blob7      cache status (HIT, MISS, STALE, EXPIRED, REVALIDATED, BYPASS; empty: no cache stage)
blob8      rate-limit/WAF outcome (empty: passed)
blob9      user id hash (empty: anonymous)
blob10     request id
=========  ==========================================  =========  =====================================
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import TYPE_CHECKING, Any

from edgeplane.bindings.analytics import AnalyticsStore, open_dataset_writer
from edgeplane.bindings.errors import BindingError
from edgeplane.errors import BadRequest
from edgeplane.gateway.stages.observe import RequestRecord

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane

__all__ = ["BLOBS", "DATASET", "DOUBLES", "RequestAnalytics", "summary"]

log = logging.getLogger("edgeplane.observe.requests")

DATASET = "edgeplane_requests"
BLOBS = ("env", "version_id", "colo", "country", "method", "route", "cache_status", "security", "user_hash",
         "request_id")  # fmt: skip
"""Field of each blob column, in order (blob1 = env …)."""
DOUBLES = ("status", "latency_ms", "bytes_in", "bytes_out", "cpu_ms")
"""Field of each double column, in order (double1 = status …)."""
COUNTRY_MAX = 8
ROUTE_MAX = 1024
"""Caps on the fields a client or an app config can make long, so a point stays within the 16 KiB of blobs."""
TOP = 10
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class RequestAnalytics:
    """The gateway observer writing ``edgeplane_requests`` (registered only when ``request_analytics`` is on)."""

    def __init__(self, control: ControlPlane) -> None:
        self.control = control
        self.enabled = control.config.observe.request_analytics
        self.colo = control.config.colo
        self.dataset = open_dataset_writer(DATASET, control.data_dir)
        self._user_key: bytes | None = None
        self.failures = 0
        self.limit = control.config.observe.request_analytics_rate
        self._second = 0
        self._seen = 0
        self.interval = 1
        """This second's sample interval: every ``interval``-th request is written, standing for that many."""

    def start(self) -> None:
        if self.enabled:
            self.control.gateway.stats.observers.append(self)

    async def close(self) -> None:
        """Stop observing and write every buffered point to the spool (before the store's last ingest)."""
        observers = self.control.gateway.stats.observers
        if self in observers:
            observers.remove(self)
        await self.dataset.close()

    def wants(self, at: float) -> bool:
        """Whether this request is written: all of them up to ``limit`` a second, then every ``interval``-th."""
        second = int(at)
        if second != self._second:
            last = self._seen if second == self._second + 1 else 0
            self.interval = -(-last // self.limit) if self.limit and last > self.limit else 1
            self._second, self._seen = second, 0
        self._seen += 1
        return not self._seen % self.interval

    def __call__(self, r: RequestRecord) -> None:
        try:
            self.dataset.write_trusted(
                (r.env, r.version_id, self.colo, r.country[:COUNTRY_MAX], r.method, r.route[:ROUTE_MAX],
                 r.cache_status, r.security, self._user_hash(r.user_id) if r.user_id else "", r.request_id),
                (r.status, r.latency_ms, r.bytes_in, r.bytes_out, r.cpu_ms),
                r.app,
                r.at,
                self.interval,
            )  # fmt: skip
        except Exception:  # an observer must never break the request path
            self.failures += 1
            if self.failures == 1:
                log.exception("request analytics point dropped (further failures are only counted)")

    def _user_hash(self, user_id: str) -> str:
        """A keyed hash (the platform secret's), so ids cannot be recovered by hashing guesses."""
        if self._user_key is None:
            self._user_key = hashlib.blake2b(self.control.bindings.secret, digest_size=32, person=b"ep-user").digest()
        return hashlib.blake2b(user_id.encode(), key=self._user_key, digest_size=8).hexdigest()


# -- canned queries --------------------------------------------------------------------------------------------
def _where(app: str | None, env: str | None, since_seconds: float) -> str:
    """The filter of every summary query; app and env are checked names, so quoting them is safe."""
    for what, value in (("app", app), ("env", env)):
        if value is not None and not NAME.match(value):
            raise BadRequest(f"{what} {value!r} is not a valid name", code="invalid_request")
    clauses = [f"timestamp > now() - INTERVAL '{max(1, round(since_seconds))}' SECOND"]
    if app is not None:
        clauses.append(f"index1 = '{app}'")
    if env is not None:
        clauses.append(f"blob1 = '{env}'")
    return " AND ".join(clauses)


def _quantiles(column: str) -> str:
    return ", ".join(
        f"quantileWeighted({q}, {column}, _sample_interval) AS p{round(q * 100)}" for q in (0.5, 0.95, 0.99)
    )


def _rate(part: Any, whole: Any) -> float | None:
    return round(part / whole, 6) if whole else None


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


async def _rows(analytics: AnalyticsStore, sql: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await analytics.query(sql, timeout=30.0, max_rows=1000))["data"]
    return rows


async def summary(
    analytics: AnalyticsStore, app: str | None = None, env: str | None = None, since_seconds: float = 3600
) -> dict[str, Any]:
    """The dashboard over the last ``since_seconds``: latency p50/p95/p99, throughput, error rate, cache hit
    rate, status classes, top countries, colos and routes, and the same per version."""
    where = _where(app, env, since_seconds)
    try:
        totals = (await _rows(analytics, _TOTALS.format(where=where, quantiles=_quantiles("double2"))))[0]
    except BindingError:
        if not any(d["dataset"] == DATASET for d in await analytics.datasets()):
            totals = {}  # no request recorded yet: the table does not exist
        else:
            raise
    requests = int(totals.get("requests") or 0)
    out: dict[str, Any] = {
        "dataset": DATASET, "app": app, "env": env, "since_seconds": since_seconds,
        "requests": requests,
        "throughput_rps": round(requests / since_seconds, 4) if since_seconds else None,
        "errors": int(totals.get("errors") or 0),
        "error_rate": _rate(totals.get("errors") or 0, requests),
        "latency_ms": {q: _ms(totals.get(q)) for q in ("p50", "p95", "p99")},
        "status_classes": {f"{n}xx": int(totals.get(f"c{n}") or 0) for n in (2, 3, 4, 5)},
        "cache": {
            "hits": int(totals.get("cache_hits") or 0), "cacheable": int(totals.get("cacheable") or 0),
            "hit_rate": _rate(totals.get("cache_hits") or 0, totals.get("cacheable") or 0),
        },
        "top_countries": [], "top_colos": [], "top_routes": [], "versions": [],
    }  # fmt: skip
    if not requests:
        return out
    for key, name, column in (("top_countries", "country", "blob4"), ("top_colos", "colo", "blob3"),
                              ("top_routes", "route", "blob6")):  # fmt: skip
        sql = _TOP.format(column=column, where=where, limit=TOP)
        out[key] = [{name: r["value"], "requests": int(r["requests"])} for r in await _rows(analytics, sql)]
    versions = await _rows(analytics, _VERSIONS.format(where=where, quantiles=_quantiles("double2")))
    out["versions"] = [
        {
            "app": v["app"], "env": v["env"], "version_id": v["version_id"], "requests": int(v["requests"]),
            "throughput_rps": round(int(v["requests"]) / since_seconds, 4), "errors": int(v["errors"]),
            "error_rate": _rate(v["errors"], v["requests"]),
            "latency_ms": {q: _ms(v[q]) for q in ("p50", "p95", "p99")},
        }
        for v in versions
    ]  # fmt: skip
    return out


_TOTALS = f"""SELECT sum(_sample_interval) AS requests, sumIf(_sample_interval, double1 >= 500) AS errors,
  sumIf(_sample_interval, double1 >= 200 AND double1 < 300) AS c2,
  sumIf(_sample_interval, double1 >= 300 AND double1 < 400) AS c3,
  sumIf(_sample_interval, double1 >= 400 AND double1 < 500) AS c4, sumIf(_sample_interval, double1 >= 500) AS c5,
  sumIf(_sample_interval, blob7 IN ('HIT', 'STALE', 'REVALIDATED')) AS cache_hits,
  sumIf(_sample_interval, blob7 NOT IN ('', 'BYPASS')) AS cacheable,
  {{quantiles}}
FROM {DATASET} WHERE {{where}}"""
_TOP = f"""SELECT {{column}} AS value, sum(_sample_interval) AS requests FROM {DATASET} WHERE {{where}}
GROUP BY value ORDER BY requests DESC, value LIMIT {{limit}}"""
_VERSIONS = f"""SELECT index1 AS app, blob1 AS env, blob2 AS version_id, sum(_sample_interval) AS requests,
  sumIf(_sample_interval, double1 >= 500) AS errors, {{quantiles}}
FROM {DATASET} WHERE {{where}} GROUP BY app, env, version_id ORDER BY requests DESC LIMIT 100"""
