"""The control plane's handle on bindings, for the admin API and CLI (``edgeplane kv key …``).

A binding is resolved the way a worker would see it: from the config of the version serving the environment
(the newest version of its deployment), or of the newest uploaded version when nothing is deployed there yet.
Namespaces are opened once and shared; the worker processes open the same files/servers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from edgeplane.bindings.kv import KVNamespace, open_namespace
from edgeplane.bindings.sql import D1Database, open_database
from edgeplane.config.app import AppConfig
from edgeplane.config.bindings import D1DatabaseConfig, KVNamespaceConfig
from edgeplane.control.store import Store
from edgeplane.errors import NotFound

__all__ = ["Bindings"]

B = TypeVar("B", KVNamespaceConfig, D1DatabaseConfig)


class Bindings:
    def __init__(self, store: Store, data_dir: Path) -> None:
        self.store = store
        self.data_dir = data_dir
        self._kv: dict[tuple[str, str, str | None], KVNamespace] = {}
        self._d1: dict[tuple[str, str, str | None], D1Database] = {}

    async def _config(self, app: str, env: str) -> AppConfig:
        versions = await self.store.list_versions(app)
        if not versions:
            raise NotFound(f"app {app!r} has no versions", code="app_not_found")
        by_id = {v["id"]: v for v in versions}
        current = await self.store.list_deployments(app, env, limit=1)
        chosen = versions[0]
        if current:
            serving = [by_id[s["version_id"]] for s in current[0]["splits"] if s["version_id"] in by_id]
            chosen = max(serving, key=lambda v: v["number"], default=chosen)
        return AppConfig.model_validate(chosen["config"])

    @staticmethod
    def _declared(items: Sequence[B], binding: str, where: str, kind: str) -> B:
        """The binding named ``binding`` among ``items``, or NotFound (code ``<KIND>_BINDING_NOT_FOUND``)."""
        for item in items:
            if item.binding == binding:
                return item
        known = ", ".join(sorted(i.binding for i in items)) or "none"
        raise NotFound(
            f"{where} has no {kind} binding {binding!r} (declared: {known})", code=f"{kind}_BINDING_NOT_FOUND"
        )

    async def kv(self, app: str, env: str, binding: str) -> KVNamespace:
        config = await self._config(app, env)
        item = self._declared(config.kv_for(env), binding, f"{app} in {env!r}", "KV")
        key = (item.backend, item.id, item.url)
        if key not in self._kv:
            self._kv[key] = open_namespace(item.backend, item.id, self.data_dir, item.url)
        return self._kv[key]

    async def d1(self, app: str, env: str, binding: str) -> tuple[D1Database, D1DatabaseConfig]:
        config = await self._config(app, env)
        item = self._declared(config.d1_for(env), binding, f"{app} in {env!r}", "D1")
        key = (item.backend, item.database_id, item.url)
        if key not in self._d1:
            self._d1[key] = open_database(item.backend, item.database_id, self.data_dir, item.url)
        return self._d1[key], item

    async def close(self) -> None:
        for namespace in self._kv.values():
            await namespace.close()
        for database in self._d1.values():
            await database.close()
        self._kv.clear()
        self._d1.clear()

    @staticmethod
    def listing(page: Any) -> dict[str, Any]:
        keys = [{"name": k.name, "expiration": k.expiration, "metadata": k.metadata} for k in page.keys]
        return {"keys": keys, "list_complete": page.list_complete, "cursor": page.cursor}
