"""``/health``: is this node able to serve, and what is wrong with it if not.

One check of every component the node depends on, each bounded by a timeout (a hanging backend shows up as
unhealthy with the time it was given, it never hangs ``/health``), run concurrently:

- ``state_store``: ``SELECT 1`` on the control-state database;
- ``workers``: every current deployment's versions have a running pool with healthy processes;
- one component per binding backend in use by a current deployment (``kv:<backend>:<id>``, ``d1:<id>``,
  ``r2:<backend>:<bucket>``), through the handles the control plane already holds (opened once, reused);
- ``analytics`` (the platform's analytics engine), ``analytics_ingest`` (the spool backlog) and
  ``request_analytics`` (points of ``edgeplane_requests`` dropped);
- ``metrics_recorder``, and ``alerts``, ``notifier``, ``probes`` when those parts run.

Overall: ``unhealthy`` when the state store is down or a live environment has no process that can serve it;
``degraded`` when anything else is not healthy; ``healthy`` otherwise.

Component ``error`` texts are short descriptions written here (never a raw exception, never a URL); the raw
reason, scrubbed of credentials, is in ``details``, which only token holders see (see :func:`public_view`).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import text

from edgeplane import __version__
from edgeplane.config.app import AppConfig
from edgeplane.config.bindings import D1DatabaseConfig, KVNamespaceConfig, R2BucketConfig
from edgeplane.errors import EdgeplaneError

if TYPE_CHECKING:
    from edgeplane.control.service import ControlPlane
    from edgeplane.observe.alerts import Alerts
    from edgeplane.observe.notify import Notifier
    from edgeplane.observe.probes import Probes
    from edgeplane.observe.requests import RequestAnalytics

__all__ = ["CACHE_FOR", "CHECK_TIMEOUT", "Health", "Status", "check", "http_status", "overall", "public_view",
           "safe_reason"]  # fmt: skip

Status = Literal["healthy", "degraded", "unhealthy"]
STATUS_ORDER = ("healthy", "degraded", "unhealthy")
CHECK_TIMEOUT = 2.0
"""Seconds each component check may take before it counts as unhealthy."""
CACHE_FOR = 1.0
"""A result this recent is reused, so ``/health`` cannot be used to hammer the backends."""
INGEST_STUCK_AFTER = 30.0
"""A spool file waiting this long means ingest is stuck (it normally runs every 0.25 s)."""
STALE_STEPS = 3
"""The recorder (and the alert evaluator) count as stuck after this many missed steps."""
ERRORS_RECENT = 300.0
"""Seconds the alerts component stays degraded after an evaluation error."""
CRITICAL = ("state_store", "workers")
"""Components whose failure makes the node unhealthy: without them it cannot serve."""
_PROBE_KEY = "__edgeplane_health__"
_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


class Failed(Exception):
    """A check's verdict: ``error`` is a short description safe to show anyone."""

    def __init__(self, error: str, status: Status = "unhealthy", details: dict[str, Any] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status: Status = status
        self.details = details or {}


@dataclass(slots=True)
class _Binding:
    kind: str
    config: KVNamespaceConfig | D1DatabaseConfig | R2BucketConfig
    app: str
    env: str
    users: list[str] = field(default_factory=list)


Check = Callable[[], Awaitable[dict[str, Any] | None]]


def iso_ms(at: float) -> str:
    """UTC ISO 8601 to the millisecond, ``Z``-suffixed (probe results, health reports)."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def safe_reason(exc: BaseException, limit: int = 200) -> str:
    """An exception's first line, with any ``scheme://user:password@`` credentials removed."""
    message = exc.message if isinstance(exc, EdgeplaneError) else str(exc)
    first = (message.strip().splitlines() or [""])[0]
    reason = _CREDENTIALS.sub(r"\1***@", first) or type(exc).__name__
    return reason[:limit]


async def _run(name: str, check: Check, timeout: float) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    entry: dict[str, Any] = {"status": "healthy"}
    try:
        details = await asyncio.wait_for(check(), timeout)
    except Failed as exc:
        entry = {"status": exc.status, "error": exc.error}
        details = exc.details
    except TimeoutError:
        entry = {"status": "unhealthy", "error": f"no answer within {timeout:g} s"}
        details = None
    except Exception as exc:  # a check must report, never break /health
        entry = {"status": "unhealthy", "error": f"check failed ({type(exc).__name__})"}
        details = {"reason": safe_reason(exc)}
    entry["response_ms"] = round((time.perf_counter() - started) * 1000, 2)
    if details:
        entry["details"] = details
    return name, entry


# -- components ------------------------------------------------------------------------------------------------
async def _state_store(control: ControlPlane) -> dict[str, Any] | None:
    try:
        async with control.store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise Failed("state store unavailable", details={"reason": safe_reason(exc)}) from None
    return {"dialect": control.store.engine.dialect.name}


def _pool_of(control: ControlPlane, app: str, env: str, version_id: str, percentage: float) -> dict[str, Any]:
    pool = control.runtime.pools.get((app, env, version_id))
    status: dict[str, Any] = pool.status() if pool is not None else {"size": 0, "healthy": 0, "processes": []}
    restarts = sum(p.get("restarts", 0) for p in status.get("processes", []))
    return {"version": version_id[:12], "percentage": percentage, "running": pool is not None,
            "size": status["size"], "healthy": status["healthy"], "restarts": restarts}  # fmt: skip


async def _workers(control: ControlPlane, deployments: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Every live environment can serve (some version has a healthy process), and every version of its split
    has its full pool healthy (else degraded)."""
    details: dict[str, Any] = {}
    down: list[str] = []
    short: list[str] = []
    for d in deployments:
        where = f"{d['app']}/{d['env']}"
        versions = [_pool_of(control, d["app"], d["env"], s["version_id"], s["percentage"]) for s in d["splits"]]
        details[where] = versions
        if not any(v["healthy"] for v in versions if v["percentage"] > 0):
            down.append(where)
        elif any(v["healthy"] < max(v["size"], 1) for v in versions):
            short.append(where)
    if down:
        raise Failed(f"{len(down)} environment(s) cannot serve: no healthy worker process", details=details)
    if short:
        raise Failed(f"{len(short)} environment(s) have missing or unhealthy worker processes", "degraded", details)
    return details


async def _kv(control: ControlPlane, b: _Binding) -> dict[str, Any] | None:
    assert isinstance(b.config, KVNamespaceConfig)
    namespace = await control.bindings.kv(b.app, b.env, b.config.binding)
    try:
        await namespace.backend.get(_PROBE_KEY, time.time())  # one real round trip on any backend
    except Exception as exc:
        raise Failed(f"{b.config.backend} KV backend unavailable", details=_binding_details(b, exc)) from None
    return _binding_details(b)


async def _d1(control: ControlPlane, b: _Binding) -> dict[str, Any] | None:
    db, _ = await control.bindings.d1(b.app, b.env, b.config.binding)
    try:
        await db.prepare("SELECT 1").first()
    except Exception as exc:
        raise Failed("D1 database unavailable", details=_binding_details(b, exc)) from None
    return _binding_details(b)


async def _r2(control: ControlPlane, b: _Binding) -> dict[str, Any] | None:
    assert isinstance(b.config, R2BucketConfig)
    try:
        bucket = await control.bindings.r2(b.app, b.env, b.config.binding)
    except EdgeplaneError as exc:  # e.g. S3 credentials missing from the platform's environment
        raise Failed("R2 bucket cannot be opened", details=_binding_details(b, exc)) from None
    backend: Any = bucket.backend
    try:
        if hasattr(backend, "client") and hasattr(backend, "bucket"):  # s3: the bucket exists and we may use it
            await asyncio.to_thread(backend.client.head_bucket, Bucket=backend.bucket)
        else:
            await bucket.head(_PROBE_KEY)
            root = getattr(backend, "root", None)
            if isinstance(root, Path) and not await asyncio.to_thread(os.access, root, os.W_OK):
                raise PermissionError(f"{root} is not writable")
    except Exception as exc:
        raise Failed(f"{b.config.backend} R2 backend unavailable", details=_binding_details(b, exc)) from None
    return _binding_details(b)


def _binding_details(b: _Binding, exc: BaseException | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": getattr(b.config, "backend", None), "bindings": sorted(b.users)}
    if exc is not None:
        out["reason"] = safe_reason(exc)
    return out


async def _analytics(control: ControlPlane, datasets: list[str], timeout: float) -> dict[str, Any] | None:
    try:
        await control.analytics.query("SELECT 1 AS ok", timeout=timeout, max_rows=1)
    except Exception as exc:
        raise Failed("analytics engine unavailable", details={"reason": safe_reason(exc)}) from None
    return {"points_ingested": control.analytics.points_ingested, "datasets_bound": sorted(set(datasets))}


def _spool_backlog(spool: Path, now: float) -> dict[str, Any]:
    files = 0
    oldest: float | None = None
    rejected = 0
    if spool.is_dir():
        for directory in spool.iterdir():
            if not directory.is_dir():
                continue
            if directory.name == "_rejected":
                rejected = sum(1 for _ in directory.iterdir())
                continue
            for file in directory.glob("*.jsonl"):
                files += 1
                try:
                    mtime = file.stat().st_mtime
                except FileNotFoundError:  # ingested while we looked
                    continue
                oldest = mtime if oldest is None else min(oldest, mtime)
    age = round(max(0.0, now - oldest), 2) if oldest is not None else 0.0
    return {"backlog_files": files, "oldest_age_s": age, "rejected_files": rejected}


async def _analytics_ingest(control: ControlPlane) -> dict[str, Any] | None:
    details = await asyncio.to_thread(_spool_backlog, control.analytics.spool_dir, time.time())
    if details["oldest_age_s"] > INGEST_STUCK_AFTER:
        raise Failed(f"analytics ingest is behind by {details['oldest_age_s']:.0f} s", "degraded", details)
    return details


def _staleness(last: float | None, since: float, step: float, what: str) -> dict[str, Any]:
    """Degraded when ``last`` (or the node's start, before the first run) is more than STALE_STEPS steps ago."""
    now = time.time()
    age = now - (last or since)
    details = {"last_at": iso_ms(last) if last else None, "age_s": round(age, 2), "step_s": step}
    if age > STALE_STEPS * step:
        raise Failed(f"{what} has not run for {age:.0f} s (every {step:g} s expected)", "degraded", details)
    return details


async def _recorder(control: ControlPlane, since: float) -> dict[str, Any] | None:
    recorder = control.observe.recorder
    details = _staleness(recorder.last_record_at, since, control.config.observe.resolution, "metrics recording")
    return {**details, "points_written": recorder.points_written}


async def _alerts(
    control: ControlPlane, evaluator: Alerts, since: float, memory: dict[str, Any]
) -> dict[str, Any] | None:
    """Degraded while evaluation is stuck, or for ERRORS_RECENT seconds after its error count last grew (the
    count is cumulative: one failure long ago must not keep the node degraded)."""
    step = control.config.observe.evaluation_interval
    details = _staleness(evaluator.last_cycle_at or None, since, step, "alert evaluation")
    errors = evaluator.errors
    details["errors"] = errors
    if _grew_recently(memory, "alert_errors", errors):
        raise Failed(f"alert rule evaluation errors in the last {ERRORS_RECENT / 60:g} min", "degraded", details)
    return details


def _grew_recently(memory: dict[str, Any], key: str, count: int) -> bool:
    """Whether a cumulative ``count`` grew in the last ERRORS_RECENT seconds (seen across checks)."""
    now = time.time()
    before, grew_at = memory.get(key, (0, 0.0))
    if count > before:
        grew_at = now
    memory[key] = (count, grew_at)
    return count > 0 and now - grew_at < ERRORS_RECENT


async def _request_analytics(writer: RequestAnalytics, memory: dict[str, Any]) -> dict[str, Any] | None:
    dropped = writer.failures
    details = {"enabled": writer.enabled, "points_written": writer.dataset.written, "points_dropped": dropped}
    if _grew_recently(memory, "request_points_dropped", dropped):
        raise Failed(f"request analytics points dropped in the last {ERRORS_RECENT / 60:g} min", "degraded", details)
    return details


async def _notifier(notifier: Notifier) -> dict[str, Any] | None:
    failing = dict(notifier.failing)
    if failing:
        reasons = {name: _CREDENTIALS.sub(r"\1***@", str(error))[:200] for name, error in failing.items()}
        raise Failed(f"failing receivers: {', '.join(sorted(failing))}", "degraded", {"failing": reasons})
    return None


async def _probes(probes: Probes) -> dict[str, Any] | None:
    stalled: list[str] = probes.stalled()
    details = {"probes": probes.count(), "failing": probes.failing(), "stalled": stalled}
    if stalled:
        raise Failed(f"probes not running: {', '.join(stalled)}", "degraded", details)
    return details


# -- assembling ---------------------------------------------------------------------------------------------------
async def _in_use(control: ControlPlane, deployments: list[dict[str, Any]]) -> tuple[list[_Binding], list[str]]:
    """Distinct binding backends of current deployments (as the control plane resolves them: the newest version
    of each deployment), and the analytics datasets they write."""
    found: dict[tuple[Any, ...], _Binding] = {}
    datasets: list[str] = []
    for d in deployments:
        app, env = d["app"], d["env"]
        versions = [await control.version(s["version_id"]) for s in d["splits"]]
        config = AppConfig.model_validate(max(versions, key=lambda v: v["number"])["config"])
        items: list[tuple[str, tuple[Any, ...], KVNamespaceConfig | D1DatabaseConfig | R2BucketConfig]] = [
            *(("kv", (i.backend, i.id, i.url), i) for i in config.kv_for(env)),
            *(("d1", (i.backend, i.database_id, i.url), i) for i in config.d1_for(env)),
            *(("r2", (i.backend, i.bucket_name, i.url), i) for i in config.r2_for(env)),
        ]
        for kind, identity, item in items:
            entry = found.setdefault((kind, *identity), _Binding(kind, item, app, env))
            entry.users.append(f"{app}/{env} {item.binding}")
        datasets += [a.dataset for a in config.analytics_for(env)]
    return list(found.values()), datasets


def _binding_name(b: _Binding) -> str:
    c = b.config
    if isinstance(c, KVNamespaceConfig):
        return f"kv:{c.backend}:{c.id}"
    if isinstance(c, D1DatabaseConfig):
        return f"d1:{c.database_id}"
    return f"r2:{c.backend}:{c.bucket_name}"


def _binding_check(control: ControlPlane, b: _Binding) -> Check:
    run = {"kv": _kv, "d1": _d1, "r2": _r2}[b.kind]
    return lambda: run(control, b)


def overall(components: dict[str, dict[str, Any]]) -> Status:
    if any(components[n]["status"] == "unhealthy" for n in CRITICAL if n in components):
        return "unhealthy"
    if any(c["status"] != "healthy" for c in components.values()):
        return "degraded"
    return "healthy"


async def _live(control: ControlPlane, timeout: float) -> tuple[list[dict[str, Any]] | None, str | None]:
    try:
        return await asyncio.wait_for(control.store.current_deployments(), timeout), None
    except TimeoutError:
        return None, f"no answer from the state store within {timeout:g} s"
    except Exception as exc:
        return None, f"cannot read deployments ({type(exc).__name__})"


async def _deployment_checks(control: ControlPlane, timeout: float) -> list[tuple[str, dict[str, Any]]]:
    """Workers and bindings: both need the current deployments first."""
    deployments, problem = await _live(control, timeout)
    if deployments is None:
        return [("workers", {"status": "unhealthy", "error": problem, "response_ms": timeout * 1000})]
    try:
        bindings, datasets = await asyncio.wait_for(_in_use(control, deployments), timeout)
    except Exception as exc:  # a version that cannot be read: report it, check the rest
        bindings, datasets = [], []
        problem = f"cannot resolve bindings ({type(exc).__name__})"
    checks: dict[str, Check] = {"workers": lambda: _workers(control, deployments)}
    checks["analytics"] = lambda: _analytics(control, datasets, timeout)
    for b in bindings:
        checks[_binding_name(b)] = _binding_check(control, b)
    results = list(await asyncio.gather(*(_run(n, c, timeout) for n, c in checks.items())))
    if problem:
        results.append(("bindings", {"status": "degraded", "error": problem, "response_ms": 0.0}))
    return results


async def _edge(control: ControlPlane) -> dict[str, Any] | None:
    """The rate-limit store and the JWT key sets of live versions, the cache's shared tier."""
    reports = {"rate_limiter": control.gateway.limiter.health()}
    for version_id, policy in control.live_edge_policies().items():
        jwt = policy.security.jwt if policy.security is not None else None
        if jwt is not None:
            reports[f"jwt:{version_id[:12]}"] = jwt.health()
    shared = control.gateway.cache.shared
    details: dict[str, Any] = dict(reports)
    if shared is not None:
        details["cache_shared_tier"] = {"errors": shared.errors, "last_error": shared.last_error}
    worst = max((r.get("status", "healthy") for r in reports.values()), key=STATUS_ORDER.index)
    if worst != "healthy":
        bad = sorted(n for n, r in reports.items() if r.get("status", "healthy") != "healthy")
        errors = "; ".join(f"{n}: {reports[n].get('error') or reports[n].get('status')}" for n in bad)
        raise Failed(errors[:200], worst, details)
    return details


def _part_checks(control: ControlPlane, since: float, memory: dict[str, Any]) -> dict[str, Check]:
    """The observability parts of ``control.observe``, and the gateway's edge parts."""
    observe = control.observe
    return {
        "edge": lambda: _edge(control),
        "metrics_recorder": lambda: _recorder(control, since),
        "alerts": lambda: _alerts(control, observe.alerts, since, memory),
        "request_analytics": lambda: _request_analytics(observe.requests, memory),
        "notifier": lambda: _notifier(observe.notifier),
        "probes": lambda: _probes(observe.probes),
    }


async def check(
    control: ControlPlane,
    *,
    timeout: float = CHECK_TIMEOUT,
    since: float | None = None,
    memory: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One full check (uncached): ``{"status", "version", "colo", "uptime_s", "checked_at", "components"}``.
    ``since`` is when the node started (uptime, and the grace before the first recording); ``memory`` carries
    what a check remembers between calls (e.g. when the alert error count last grew)."""
    now = time.time()
    started = since if since is not None else now
    checks: dict[str, Check] = {
        "state_store": lambda: _state_store(control),
        "analytics_ingest": lambda: _analytics_ingest(control),
        **_part_checks(control, started, {} if memory is None else memory),
    }
    simple, deployed = await asyncio.gather(
        asyncio.gather(*(_run(n, c, timeout) for n, c in checks.items())), _deployment_checks(control, timeout)
    )
    results = [*simple, *deployed]
    components = dict(sorted(results))
    return {
        "status": overall(components),
        "version": __version__,
        "colo": control.config.colo,
        "uptime_s": round(now - started, 1),
        "checked_at": iso_ms(now),
        "components": components,
    }


def public_view(report: dict[str, Any]) -> dict[str, Any]:
    """The report without ``details`` (what anyone may see: statuses, timings and short error texts)."""
    components = {
        name: {k: v for k, v in entry.items() if k != "details"} for name, entry in report["components"].items()
    }
    return {**report, "components": components}


class Health:
    """``control.observe.health``: the node's cached health, for the admin API and the gateway."""

    def __init__(self, control: ControlPlane, *, timeout: float = CHECK_TIMEOUT, cache_for: float = CACHE_FOR) -> None:
        self.control = control
        self.timeout = timeout
        self.cache_for = cache_for
        self.started_at = time.time()
        self._last: tuple[float, dict[str, Any]] | None = None
        self._running: asyncio.Task[dict[str, Any]] | None = None
        self._memory: dict[str, Any] = {}
        control.gateway.health.report = self.gateway_body

    async def current(self) -> dict[str, Any]:
        """The latest report if it is at most ``cache_for`` old, else a new one; concurrent callers share one
        check, so a burst of requests costs one round of backend checks."""
        if self._last is not None and time.monotonic() - self._last[0] < self.cache_for:
            return self._last[1]
        if self._running is None:
            run = check(self.control, timeout=self.timeout, since=self.started_at, memory=self._memory)
            self._running = asyncio.create_task(run)
            self._running.add_done_callback(self._done)
        return await asyncio.shield(self._running)

    def _done(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._running = None
        if not task.cancelled() and task.exception() is None:
            self._last = (time.monotonic(), task.result())

    async def gateway_body(self) -> tuple[int, dict[str, Any]]:
        """What ``GET /_edgeplane/health`` on the gateway answers: the public view and its HTTP status."""
        report = await self.current()
        return http_status(report), public_view(report)


def http_status(report: dict[str, Any]) -> int:
    """200 while the node can serve (healthy or degraded), 503 when it cannot."""
    return 503 if report["status"] == "unhealthy" else 200
