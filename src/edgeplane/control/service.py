"""The control plane's actions: upload, deploy, rollback — validated first, applied to the runtime, recorded.

A deploy starts (or reuses) the pools of every version in the split and only then records the deployment
and swaps the gateway's routing table, so a version that fails to start changes nothing. Pools of the last
``keep_warm`` fully-deployed versions of each environment keep running, so rollback is a routing change.
"""

from __future__ import annotations

import asyncio
import logging
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from edgeplane.bindings.analytics import open_store
from edgeplane.config.app import AppConfig, Route
from edgeplane.config.load import CONFIG_FILE, parse_app_config
from edgeplane.config.server import ServerConfig
from edgeplane.control.bindings import Bindings
from edgeplane.control.purges import CachePurges
from edgeplane.control.store import Store
from edgeplane.control.tokens import TokenAuth
from edgeplane.delivery.controller import RolloutController
from edgeplane.delivery.splits import Split, validate_splits
from edgeplane.delivery.versions import resolve_version
from edgeplane.errors import BadRequest, ConfigError, Conflict, EdgeplaneError, Forbidden, NotFound
from edgeplane.gateway.app import Gateway
from edgeplane.gateway.edge_policy import EdgePolicy, compile_policy, failed_policy
from edgeplane.gateway.routing import DeploymentTarget, RouteTable, VersionTarget
from edgeplane.observe.hub import Observability
from edgeplane.runtime.bundles import BundleStore
from edgeplane.runtime.pools import Runtime
from edgeplane.runtime.supervisor import PoolKey, WorkerSpec

__all__ = ["ControlPlane"]

log = logging.getLogger("edgeplane.control")

RESTORE_WAIT = 10.0
HEAL_START = 2.0
HEAL_MAX = 60.0


class _NoPool:
    """Stands in for a version whose processes are not running: the gateway answers 503, not silence."""

    healthy: list[Any] = []

    def pick(self, exclude: Any = None) -> None:
        return None

    def mark_failed(self, endpoint: Any) -> None:
        return None


class ControlPlane:
    def __init__(self, config: ServerConfig, gateway: Gateway) -> None:
        self.config = config
        self.data_dir = config.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'state.db'}")
        self.bundles = BundleStore(self.data_dir / "bundles")
        self.runtime = Runtime(self.data_dir / "logs")
        self.gateway = gateway
        self._edge_policies: dict[str, EdgePolicy] = {}
        self.auth = TokenAuth(self.store)
        self.bindings = Bindings(self.store, self.data_dir, config.gateway_url())
        self.analytics = open_store(self.data_dir, threads=config.analytics_threads)
        gateway.objects.resolve = self.bindings.r2
        gateway.objects.secret = lambda: self.bindings.secret
        gateway.secret = lambda: self.bindings.secret
        self._lock = asyncio.Lock()
        self._pinned: Counter[PoolKey] = Counter()
        self._healing: set[PoolKey] = set()
        self._versions: dict[str, dict[str, Any]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self.rollouts = RolloutController(self)
        self.observe = Observability(self)
        self.purges = CachePurges(self.store, gateway.cache, config.edge.purge_poll)

    async def start(self, preset_token: str | None = None) -> str | None:
        """Open the store, create the first admin token if needed, and bring back every current deployment."""
        await self.store.init()
        await self.analytics.start()
        token = await self.auth.bootstrap(self.data_dir, preset_token)
        await self._restore()
        await self._publish()
        self.spawn(self._reconcile(start_previous=True))
        self.spawn(self._heal())
        await self.rollouts.start()
        await self.observe.start()
        await self.purges.start()
        self.spawn(self.purges.run())
        return token

    async def _restore(self) -> None:
        """Start every current deployment's pools, all at once, waiting at most RESTORE_WAIT: a version that is
        slow or down (an upstream that is not up yet) must not hold the whole platform back. What is still
        starting goes on in the background; the heal loop publishes it, or retries it, later."""
        restores = {
            asyncio.create_task(self._start_pools(d["app"], d["env"], d["splits"])): f"{d['app']}/{d['env']}"
            for d in await self.store.current_deployments()
        }
        if not restores:
            return

        def report(task: asyncio.Task[None]) -> None:
            exc = None if task.cancelled() else task.exception()
            if isinstance(exc, EdgeplaneError):
                log.error("cannot restore %s yet (will retry): %s", restores[task], exc.message)
            elif exc is not None:
                log.error("cannot restore %s yet (will retry): %r", restores[task], exc)

        for task in restores:
            task.add_done_callback(report)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        await asyncio.wait(restores, timeout=RESTORE_WAIT)

    async def _missing(self) -> set[PoolKey]:
        """Live versions (in a current deployment) with no running pool."""
        return {
            (d["app"], d["env"], s["version_id"])
            for d in await self.store.current_deployments()
            for s in d["splits"]
            if (d["app"], d["env"], s["version_id"]) not in self.runtime.pools
        }

    async def _heal(self) -> None:
        """Watch for live versions without a running pool (down at start-up, or failed since) and heal each in
        its own task, so one that never comes back does not delay the others."""
        while True:
            await asyncio.sleep(HEAL_START)
            for key in await self._missing() - self._healing:
                self._healing.add(key)
                self.spawn(self._heal_one(key))

    async def _heal_one(self, key: PoolKey) -> None:
        app, env, vid = key
        delay = HEAL_START
        try:
            while key in await self._missing():
                try:
                    await self.runtime.ensure(await self._spec(app, env, vid))
                except EdgeplaneError as exc:
                    log.warning("%s/%s version %s is still down: %s", app, env, vid[:8], exc.message)
                else:
                    async with self._lock:
                        await self._publish()
                    log.info("restored %s/%s version %s", app, env, vid[:8])
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, HEAL_MAX)
        finally:
            self._healing.discard(key)

    def pin_for(self, key: PoolKey, seconds: float) -> None:
        """Keep a pool running for ``seconds`` even if no deployment needs it (blue-green rollback window).
        In memory: a restart falls back to ``keep_warm``."""
        self._pinned[key] += 1

        async def release() -> None:
            try:
                await asyncio.sleep(seconds)
            finally:
                self._pinned[key] -= 1
            await self._reconcile()

        self.spawn(release())

    async def close(self) -> None:
        await self.rollouts.close()
        await self.observe.close()
        background = list(self._background)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await self.runtime.close()
        await self.gateway.cache.close()
        await self.gateway.limiter.close()
        for policy in self._edge_policies.values():
            await policy.close()
        await self.analytics.close()  # after the workers: their last points are spooled by now
        await self.bindings.close()
        await self.store.close()

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- versions ------------------------------------------------------------------------------------------
    async def upload(self, app: str, data: bytes, *, message: str, tag: str | None, actor: str) -> dict[str, Any]:
        # Validating, hashing and fsyncing up to 64 MB must not stall the gateway sharing this loop.
        digest = await asyncio.to_thread(self.bundles.put, data)
        raw = await asyncio.to_thread(self.bundles.read_file, digest, CONFIG_FILE)
        if raw is None:
            raise BadRequest(f"the bundle has no {CONFIG_FILE} at its top level", code="bundle_invalid")
        where = Path(f"bundle {digest[:12]}/{CONFIG_FILE}")
        try:
            data_toml = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadRequest(f"{where}: not valid TOML: {exc}", code="config_invalid") from None
        config = parse_app_config(data_toml, where)
        if config.name != app:
            raise BadRequest(f"{where}: name is {config.name!r} but the upload is for app {app!r}", code="app_mismatch")
        main_file = config.main.partition(":")[0] if config.main else None
        if main_file and await asyncio.to_thread(self.bundles.read_file, digest, main_file) is None:
            raise BadRequest(f"{where}: main = {config.main!r} is not in the bundle", code="config_invalid")
        return await self.store.add_version(
            app=app,
            digest=digest,
            message=message,
            tag=tag,
            author=actor,
            config=config.model_dump(mode="json"),
        )

    async def version(self, version_id: str) -> dict[str, Any]:
        cached = self._versions.get(version_id)
        if cached is None:
            cached = await self.store.get_version(version_id)
            if cached is None:
                raise NotFound(f"unknown version {version_id}", code="version_not_found")
            self._versions[version_id] = cached
        return cached

    async def resolve(self, app: str, ref: str) -> dict[str, Any]:
        return resolve_version(ref, await self.store.list_versions(app))

    # -- deployments ---------------------------------------------------------------------------------------
    async def deploy(
        self,
        app: str,
        env: str,
        splits: list[Split],
        *,
        message: str,
        actor: str,
        kind: str = "deploy",
        rollout: str | None = None,
    ) -> dict[str, Any]:
        """Serve ``splits`` in ``env``. Only the rollout that owns an environment (``rollout``) may change it
        while that rollout is active; everyone else gets ``rollout_in_progress``."""
        validate_splits(splits)
        if rollout is None:
            self.rollouts.ensure_idle(app, env)
            if kind == "deploy" and self.config.approvals.get(env):
                raise Forbidden(
                    f"{env} requires {self.config.approvals[env]} approvals: start a rollout "
                    f"('edgeplane deploy VERSION --strategy canary') and have it approved",
                    code="approval_required",
                )
        elif (owner := self.rollouts.active_for(app, env)) is not None and owner.id != rollout:
            raise Conflict(f"rollout {owner.id[:8]} owns {app}/{env}", code="rollout_in_progress")
        versions = await self.store.list_versions(app)
        if not versions:
            raise NotFound(f"app {app!r} has no versions; upload one first", code="app_not_found")
        resolved = [(resolve_version(s.version, versions), s.percentage) for s in splits]
        ids = [v["id"] for v, _ in resolved]
        if len(set(ids)) != len(ids):
            raise BadRequest("the same version appears twice in the split", code="invalid_split")
        for v, _ in resolved:
            try:
                AppConfig.model_validate(v["config"]).environment(env)
            except ValueError as exc:
                raise BadRequest(f"version v{v['number']}: {exc}", code="unknown_environment") from None
        stored = [{"version_id": v["id"], "percentage": pct} for v, pct in resolved]
        self._check_routes(app, env, resolved)
        keys = [(app, env, s["version_id"]) for s in stored]
        self._pinned.update(keys)  # starting pools are not reconciled away; no lock held while they start
        try:
            await self._start_pools(app, env, stored)
            async with self._lock:
                self._check_routes(app, env, resolved)
                record = await self.store.add_deployment(
                    app=app, env=env, kind=kind, splits=stored, message=message, author=actor
                )
                await self._publish()
        finally:
            self._pinned.subtract(keys)
            self.spawn(self._reconcile())
        if rollout is None:  # a rollout publishes its own events; plain deploys and rollbacks are told here
            self.rollouts.bus.publish({
                "rollout": "", "app": app, "env": env, "kind": "deployed" if kind == "deploy" else "rollback",
                "step": 0, "state": kind, "message": message or kind, "at": time.time(),
                "details": {"deployment": record["id"], "splits": stored, "author": actor},
            })  # fmt: skip
        return record

    async def rollback(self, app: str, env: str, ref: str | None, *, message: str, actor: str) -> dict[str, Any]:
        """Abort the environment's active rollout (if any: that already restores its stable version), then go
        back to the previous fully-deployed version, or ``ref``."""
        active = self.rollouts.active_for(app, env)
        if active is not None:
            await self.rollouts.command(active.id, "abort", {"id": "", "name": actor})
            if ref is None:
                return (await self.store.list_deployments(app, env, limit=1))[0]
        history = await self.store.list_deployments(app, env, limit=500)
        if not history:
            raise NotFound(f"{app} has no deployment in {env!r} to roll back", code="deployment_not_found")
        if ref is not None:
            target = await self.resolve(app, ref)
            served_before = any(len(d["splits"]) == 1 and d["splits"][0]["version_id"] == target["id"] for d in history)
            if self.config.approvals.get(env) and not served_before:
                raise Forbidden(
                    f"v{target['number']} never served all of {env}, which requires approvals: roll it out instead",
                    code="approval_required",
                )
        else:
            current = history[0]["splits"]
            current_id = current[0]["version_id"] if len(current) == 1 else None
            previous = next(
                (d for d in history[1:] if len(d["splits"]) == 1 and d["splits"][0]["version_id"] != current_id),
                None,
            )
            if previous is None:
                raise NotFound(f"no earlier fully-deployed version of {app} in {env!r}", code="no_rollback_target")
            target = await self.version(previous["splits"][0]["version_id"])
        note = message or f"rollback to v{target['number']}"
        return await self.deploy(app, env, [Split(target["id"], 100.0)], message=note, actor=actor, kind="rollback")

    async def status(self, app: str, env: str) -> dict[str, Any]:
        history = await self.store.list_deployments(app, env, limit=1)
        if not history:
            raise NotFound(f"{app} has no deployment in {env!r}", code="deployment_not_found")
        current = history[0]
        rows = []
        for split in current["splits"]:
            version = await self.version(split["version_id"])
            pool = self.runtime.pools.get((app, env, version["id"]))
            rows.append(
                {
                    "version_id": version["id"], "number": version["number"], "tag": version["tag"],
                    "percentage": split["percentage"],
                    "pool": pool.status() if pool else {"size": 0, "healthy": 0, "processes": []},
                }
            )  # fmt: skip
        requests = {
            f"{v}:{cls}": n
            for (a, e, v), counters in self.gateway.stats.versions.items()
            if a == app and e == env
            for cls, n in counters.by_class().items()
        }
        return {"deployment": current, "versions": rows, "requests": requests}

    # -- applying state ------------------------------------------------------------------------------------
    async def _spec(self, app: str, env: str, version_id: str) -> WorkerSpec:
        version = await self.version(version_id)
        cfg = AppConfig.model_validate(version["config"])
        root = await asyncio.to_thread(self.bundles.unpack, version["hash"]) if cfg.main else None
        rt = cfg.runtime
        return WorkerSpec(
            app=app, env=env, version_id=version_id, root=root, main=cfg.main, upstream=cfg.upstream,
            vars=cfg.vars_for(env), bindings=self.bindings.for_worker(cfg, app, env), data_dir=str(self.data_dir),
            pool_size=rt.pool_size, health_check_path=rt.health_check_path,
            startup_timeout=rt.startup_timeout, inherit_stdio=self.config.workers_inherit_stdio,
        )  # fmt: skip

    async def _start_pools(self, app: str, env: str, splits: list[dict[str, Any]]) -> None:
        specs = [await self._spec(app, env, s["version_id"]) for s in splits]
        results = await asyncio.gather(*(self.runtime.ensure(s) for s in specs), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _routes_of(self, env: str, versions: list[dict[str, Any]]) -> list[Route]:
        """Routes come from the newest version in the deployment (routes belong to the app, not a version)."""
        newest = max(versions, key=lambda v: v["number"])
        return AppConfig.model_validate(newest["config"]).environment(env).all_routes()

    def _check_routes(self, app: str, env: str, resolved: list[Any]) -> None:
        for version, _ in resolved:
            self._edge_policy(version, strict=True)  # e.g. an unset JWT secret variable: refuse, do not go live
        mine = {(r.wildcard_host, r.host, r.path_prefix) for r in self._routes_of(env, [v for v, _ in resolved])}
        for (other_app, other_env), target in self.gateway.routes.table.targets.items():
            if (other_app, other_env) == (app, env):
                continue
            for route in self.gateway.routes.table.routes_of(target):
                if (route.wildcard_host, route.host, route.path_prefix) in mine:
                    raise Conflict(
                        f"route {route.pattern!r} is already served by {other_app}/{other_env}",
                        code="route_conflict",
                    )

    async def _publish(self) -> None:
        """Rebuild the routing table from current deployments and swap it in."""
        entries: list[tuple[Route, DeploymentTarget]] = []
        fallback = None
        for d in await self.store.current_deployments():
            app, env = d["app"], d["env"]
            versions, targets = [], []
            for split in d["splits"]:
                version = await self.version(split["version_id"])
                versions.append(version)
                pool: Any = self.runtime.pools.get((app, env, version["id"])) or _NoPool()
                base = getattr(pool, "base_path", "").encode()
                vid = version["id"].encode()
                public = vid if self.config.expose_version_header else b""
                stats = self.gateway.stats.of(app, env, version["id"])
                edge = self._edge_policy(version)
                targets.append(VersionTarget(version["id"], split["percentage"], pool, vid, base, public, stats, edge))
            target = DeploymentTarget.build(app, env, d["id"], targets)
            entries += [(route, target) for route in self._routes_of(env, versions)]
            if self.config.fallback == f"{app}/{env}":
                fallback = target
        self.gateway.routes.table = RouteTable(entries, fallback)

    def live_edge_policies(self) -> dict[str, EdgePolicy]:
        """The edge policies of every version serving traffic now, by version id."""
        return {
            v.version_id: v.edge
            for target in self.gateway.routes.table.targets.values()
            for v in target.versions
            if v.edge is not None
        }

    def _edge_policy(self, version: dict[str, Any], *, strict: bool = False) -> EdgePolicy:
        """The version's compiled edge policies (compiled once per version: a version's config never changes).
        One that cannot be compiled here (a secret variable missing on this node) raises when ``strict``, else
        serves 503s (``edge_policy_failed``) rather than the version without its security policies."""
        policy = self._edge_policies.get(version["id"])
        if policy is None:
            try:
                policy = compile_policy(AppConfig.model_validate(version["config"]))
            except ConfigError as exc:
                if strict:
                    raise
                log.error("version %s cannot serve: its edge policies fail here: %s", version["id"], exc.message)
                return failed_policy(exc.message)
            self._edge_policies[version["id"]] = policy
            self.spawn(policy.start())
        return policy

    async def _desired(self) -> tuple[set[PoolKey], set[PoolKey]]:
        """Pools that serve traffic now, and pools of recent fully-deployed versions kept warm for rollback."""
        live: set[PoolKey] = set()
        warm: set[PoolKey] = set()
        for d in await self.store.current_deployments():
            app, env = d["app"], d["env"]
            live |= {(app, env, s["version_id"]) for s in d["splits"]}
            kept: list[str] = []
            for past in (await self.store.list_deployments(app, env, limit=100))[1:]:
                if len(kept) >= self.config.keep_warm:
                    break
                vid = past["splits"][0]["version_id"]
                if len(past["splits"]) == 1 and vid not in kept and (app, env, vid) not in live:
                    kept.append(vid)
            warm |= {(app, env, vid) for vid in kept}
        return live, warm

    async def _reconcile(self, start_previous: bool = False) -> None:
        """Stop pools nobody needs; optionally start the warm ones (after a restart)."""
        async with self._lock:
            live, warm = await self._desired()
            for key in list(self.runtime.pools):
                if key not in live and key not in warm and self._pinned[key] <= 0:
                    self.runtime.retire(key)
        if start_previous:
            for app, env, vid in warm - set(self.runtime.pools):
                try:
                    await self.runtime.ensure(await self._spec(app, env, vid))
                except EdgeplaneError as exc:
                    log.warning("could not keep %s/%s %s warm: %s", app, env, vid[:8], exc.message)
