"""Admin API tokens: random secrets shown once, stored as sha256 hashes, with scopes."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeplane.errors import BadRequest, Forbidden, Unauthorized

if TYPE_CHECKING:
    from edgeplane.control.store import Store

__all__ = ["SCOPES", "TOKEN_FILE", "TokenAuth", "hash_token", "new_token"]

SCOPES = ("read", "deploy", "admin")
"""Each scope includes the ones before it: ``admin`` can do everything, ``read`` only look."""
TOKEN_FILE = "admin.token"


def new_token() -> str:
    return "ep_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def grants(scopes: list[str], needed: str) -> bool:
    rank = max((SCOPES.index(s) for s in scopes if s in SCOPES), default=-1)
    return rank >= SCOPES.index(needed)


class TokenAuth:
    """Checks bearer tokens against the store, caching hashes of valid tokens in memory."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, dict[str, Any]] = {}

    async def bootstrap(self, data_dir: Path, preset: str | None) -> str | None:
        """On first start create the admin token; returns it (to print once) or None if tokens exist."""
        if await self.store.count_tokens():
            return None
        token = preset or new_token()
        await self.store.add_token(name="admin", digest=hash_token(token), scopes=["admin"], actor="system")
        if preset is None:
            path = data_dir / TOKEN_FILE
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(token + "\n")
        return token

    async def check(self, authorization: str | None, needed: str) -> dict[str, Any]:
        """The token record for an ``Authorization: Bearer …`` header that grants ``needed``."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        digest = hash_token(authorization[7:].strip())
        record = self._cache.get(digest) or await self.store.token_by_hash(digest)
        if record is None or record.get("revoked_at"):
            raise Unauthorized("invalid or revoked token")
        self._cache[digest] = record
        if not grants(record["scopes"], needed):
            raise Forbidden(f"token {record['name']!r} lacks the {needed!r} scope", code="insufficient_scope")
        return record

    async def create(self, name: str, scopes: list[str], actor: str) -> tuple[str, dict[str, Any]]:
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown or not scopes:
            raise BadRequest(f"unknown scopes {unknown}; choose from {list(SCOPES)}", code="invalid_scope")
        token = new_token()
        record = await self.store.add_token(name=name, digest=hash_token(token), scopes=scopes, actor=actor)
        return token, record

    async def revoke(self, token_id: str, actor: str) -> bool:
        ok = await self.store.revoke_token(token_id, actor)
        self._cache = {h: r for h, r in self._cache.items() if r["id"] != token_id}
        return ok
