"""The control plane's handle on bindings, for the admin API and CLI (``edgeplane kv key …``).

A binding is resolved the way a worker would see it: from the config of the version serving the environment
(the newest version of its deployment), or of the newest uploaded version when nothing is deployed there yet.
Namespaces are opened once and shared; the worker processes open the same files/servers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.kv import KVNamespace, open_namespace
from edgeplane.bindings.objects import R2Bucket, open_bucket
from edgeplane.bindings.objects.presign import binding_key, load_secret, url_signer
from edgeplane.bindings.sql import D1Database, open_database
from edgeplane.config.app import AppConfig
from edgeplane.config.bindings import AnalyticsDatasetConfig, D1DatabaseConfig, KVNamespaceConfig, R2BucketConfig
from edgeplane.control.store import Store
from edgeplane.errors import NotFound

__all__ = ["Bindings"]

B = TypeVar("B", KVNamespaceConfig, D1DatabaseConfig, R2BucketConfig, AnalyticsDatasetConfig)


def s3_options(item: R2BucketConfig) -> dict[str, Any]:
    """Region and credentials for an s3 bucket, read from the platform's environment variables it names."""
    if item.backend != "s3":
        return {}
    options: dict[str, Any] = {"region": item.region}
    for option, variable in (
        ("access_key_id", item.access_key_id_env),
        ("secret_access_key", item.secret_access_key_env),
    ):
        value = os.environ.get(variable)
        if value is None:
            raise BindingError(
                f"r2 bucket {item.binding!r} (backend = 's3') needs the environment variable {variable} "
                f"(set it for `edgeplane serve`, or name another with {option}_env = ...)",
                code="R2_CREDENTIALS_MISSING",
            )
        options[option] = value
    return options


class Bindings:
    def __init__(self, store: Store, data_dir: Path, gateway_url: str = "http://127.0.0.1:8787") -> None:
        self.store = store
        self.data_dir = data_dir
        self.gateway_url = gateway_url
        self._secret: bytes | None = None
        self._kv: dict[tuple[str, str, str | None], KVNamespace] = {}
        self._d1: dict[tuple[str, str, str | None], D1Database] = {}
        self._r2: dict[tuple[str, str, str], tuple[R2BucketConfig, R2Bucket]] = {}

    @property
    def secret(self) -> bytes:
        """The presigning secret (created on first use)."""
        if self._secret is None:
            self._secret = load_secret(self.data_dir)
        return self._secret

    def for_worker(self, config: AppConfig, app: str, env: str) -> dict[str, list[dict[str, Any]]]:
        """The binding configs a worker process of ``app`` in ``env`` opens; r2 entries carry resolved S3
        credentials and the binding's presigning key (never the platform secret)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for kind, items in config.bindings_for(env).items():
            out[kind] = []
            for item in items:
                entry = item.model_dump()
                if isinstance(item, R2BucketConfig):
                    entry["options"] = s3_options(item)
                    entry["presign"] = {
                        "base_url": self.gateway_url, "app": app, "env": env,
                        "key": binding_key(self.secret, app, env, item.binding).hex(),
                    }  # fmt: skip
                out[kind].append(entry)
        return out

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

    async def r2(self, app: str, env: str, binding: str) -> R2Bucket:
        config = await self._config(app, env)
        item = self._declared(config.r2_for(env), binding, f"{app} in {env!r}", "R2")
        key = (app, env, binding)
        opened = self._r2.get(key)
        if opened is not None and opened[0] == item:
            return opened[1]
        if opened is not None:  # a newer version changed the binding's config
            await opened[1].close()
        sign = url_signer(self.gateway_url, binding_key(self.secret, app, env, binding), app, env, binding)
        bucket = open_bucket(item.backend, item.bucket_name, self.data_dir, item.url, s3_options(item), sign)
        self._r2[key] = (item, bucket)
        return bucket

    async def close(self) -> None:
        for _, bucket in self._r2.values():
            await bucket.close()
        self._r2.clear()
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
