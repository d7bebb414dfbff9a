"""The control-state store: versions, deployments, tokens and the audit log.

SQLAlchemy Core on an async engine: SQLite (aiosqlite, WAL) by default; a PostgreSQL URL
(``postgresql+asyncpg://``) uses the same code. Every change and its audit entry commit in one transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from edgeplane.control.schema import (
    MIGRATIONS,
    audit,
    deployments,
    metadata,
    now,
    schema_versions,
    tokens,
    versions,
)

__all__ = ["Store"]

NUMBER_RETRIES = 5


def _row_dict(values: dict[str, Any]) -> dict[str, Any]:
    """A row as the API shows it: datetimes as ISO 8601 strings."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def _row(row: Any) -> dict[str, Any]:
    return _row_dict(dict(row._mapping))


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url)
        self._numbering = asyncio.Lock()
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    async def init(self) -> None:
        """Create/upgrade the schema: apply each pending migration in its own transaction."""
        async with self.engine.begin() as conn:
            await conn.run_sync(lambda c: metadata.create_all(c, tables=[schema_versions]))
            done = set((await conn.execute(select(schema_versions.c.version))).scalars())
        for number, name, migrate in MIGRATIONS:
            if number in done:
                continue
            async with self.engine.begin() as conn:
                await conn.run_sync(migrate)
                await conn.execute(insert(schema_versions).values(version=number, name=name, applied_at=now()))

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    async def _audit(
        self, conn: AsyncConnection, actor: str, action: str, target: str, details: dict[str, Any]
    ) -> None:
        await conn.execute(insert(audit).values(at=now(), actor=actor, action=action, target=target, details=details))

    # -- versions ------------------------------------------------------------------------------------------
    async def add_version(
        self, *, app: str, digest: str, message: str, tag: str | None, author: str, config: dict[str, Any]
    ) -> dict[str, Any]:
        """Record a version with the next number; concurrent uploads each get their own number (one at a time
        in this process; the unique constraint and a retry settle races with other processes)."""
        async with self._numbering:
            for attempt in range(NUMBER_RETRIES):
                try:
                    return await self._add_version(app, digest, message, tag, author, config)
                except IntegrityError:
                    if attempt == NUMBER_RETRIES - 1:
                        raise
        raise AssertionError("unreachable")

    async def _add_version(
        self, app: str, digest: str, message: str, tag: str | None, author: str, config: dict[str, Any]
    ) -> dict[str, Any]:
        async with self._tx() as conn:
            number = (await conn.execute(select(func.max(versions.c.number)).where(versions.c.app == app))).scalar()
            version_id = str(uuid.uuid4())
            values: dict[str, Any] = {
                "id": version_id, "app": app, "number": (number or 0) + 1, "hash": digest,
                "message": message, "tag": tag, "author": author, "created_at": now(), "config": config,
            }  # fmt: skip
            await conn.execute(insert(versions).values(**values))
            await self._audit(conn, author, "version.upload", f"{app}/{version_id}", {"hash": digest, "tag": tag})
        return _row_dict(values)

    async def get_version(self, version_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(versions).where(versions.c.id == version_id))).first()
        return _row(row) if row else None

    async def list_versions(self, app: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(versions).where(versions.c.app == app).order_by(versions.c.number.desc()))
        return [_row(r) for r in rows]

    async def list_apps(self) -> list[str]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(select(versions.c.app).distinct().order_by(versions.c.app))).scalars())

    # -- deployments ---------------------------------------------------------------------------------------
    async def add_deployment(
        self, *, app: str, env: str, kind: str, splits: list[dict[str, Any]], message: str, author: str
    ) -> dict[str, Any]:
        async with self._tx() as conn:
            where = (deployments.c.app == app) & (deployments.c.env == env)
            seq = (await conn.execute(select(func.max(deployments.c.seq)).where(where))).scalar()
            values: dict[str, Any] = {
                "id": str(uuid.uuid4()), "seq": (seq or 0) + 1, "app": app, "env": env, "kind": kind,
                "splits": splits, "message": message, "author": author, "created_at": now(),
            }  # fmt: skip
            await conn.execute(insert(deployments).values(**values))
            await self._audit(conn, author, f"deployment.{kind}", f"{app}/{env}", {"splits": splits})
        return _row_dict(values)

    async def list_deployments(self, app: str, env: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = select(deployments).where(deployments.c.app == app)
        if env is not None:
            query = query.where(deployments.c.env == env)
        query = query.order_by(deployments.c.created_at.desc(), deployments.c.seq.desc()).limit(limit)
        async with self.engine.connect() as conn:
            return [_row(r) for r in await conn.execute(query)]

    async def current_deployments(self) -> list[dict[str, Any]]:
        """The newest deployment of every (app, env)."""
        latest = (
            select(deployments.c.app, deployments.c.env, func.max(deployments.c.seq).label("seq"))
            .group_by(deployments.c.app, deployments.c.env)
            .subquery()
        )
        query = select(deployments).join(
            latest,
            (deployments.c.app == latest.c.app)
            & (deployments.c.env == latest.c.env)
            & (deployments.c.seq == latest.c.seq),
        )
        async with self.engine.connect() as conn:
            return [_row(r) for r in await conn.execute(query)]

    # -- tokens --------------------------------------------------------------------------------------------
    async def add_token(self, *, name: str, digest: str, scopes: list[str], actor: str) -> dict[str, Any]:
        token_id = str(uuid.uuid4())
        values: dict[str, Any] = {
            "id": token_id,
            "name": name,
            "hash": digest,
            "scopes": scopes,
            "created_at": now(),
        }
        async with self._tx() as conn:
            await conn.execute(insert(tokens).values(**values))
            await self._audit(conn, actor, "token.create", token_id, {"name": name, "scopes": scopes})
        return _row_dict({k: v for k, v in values.items() if k != "hash"})

    async def token_by_hash(self, digest: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(tokens).where(tokens.c.hash == digest))).first()
        return _row(row) if row else None

    async def list_tokens(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(tokens).order_by(tokens.c.created_at))
        return [{k: v for k, v in _row(r).items() if k != "hash"} for r in rows]

    async def revoke_token(self, token_id: str, actor: str) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(
                update(tokens).where((tokens.c.id == token_id) & tokens.c.revoked_at.is_(None)).values(revoked_at=now())
            )
            if result.rowcount:
                await self._audit(conn, actor, "token.revoke", token_id, {})
        return bool(result.rowcount)

    async def count_tokens(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(tokens))).scalar() or 0)

    # -- audit ---------------------------------------------------------------------------------------------
    async def list_audit(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(audit).order_by(audit.c.id.desc()).limit(limit))
        return [_row(r) for r in rows]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
