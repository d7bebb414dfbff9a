"""Presigned object URLs: the gateway serves ``GET``/``PUT`` of one object to whoever holds the URL, until it
expires, with no worker involved.

A URL is ``<gateway>/.edgeplane/r2/<app>/<env>/<binding>/<key>?method=GET&expires=<epoch>&signature=<hex>``.
The signature is HMAC-SHA256 over method, app, env, binding, key and expiry, keyed by a per-binding key
derived from the platform's secret (``<data_dir>/presign.key``): a worker is given only its own bindings' keys.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

__all__ = ["PREFIX", "binding_key", "load_secret", "signature", "url_signer"]

PREFIX = "/.edgeplane/r2/"


def load_secret(data_dir: Path) -> bytes:
    """The platform's presigning secret, created (0600) on first use."""
    path = data_dir / "presign.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value.hex())
    return value


def binding_key(secret: bytes, app: str, env: str, binding: str) -> bytes:
    return hmac.new(secret, f"r2\0{app}\0{env}\0{binding}".encode(), hashlib.sha256).digest()


def signature(key: bytes, method: str, app: str, env: str, binding: str, object_key: str, expires: int) -> str:
    message = "\0".join([method, app, env, binding, object_key, str(expires)]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def url_signer(
    base_url: str, key: bytes, app: str, env: str, binding: str, clock: Callable[[], float] = time.time
) -> Callable[[str, str, int], str]:
    """``sign(method, object_key, expires_in) -> URL`` for one binding."""
    root = f"{base_url.rstrip('/')}{PREFIX}{quote(app)}/{quote(env)}/{quote(binding)}/"

    def sign(method: str, object_key: str, expires_in: int) -> str:
        expires = int(clock()) + expires_in
        sig = signature(key, method, app, env, binding, object_key, expires)
        query = urlencode({"method": method, "expires": expires, "signature": sig})
        return f"{root}{quote(object_key, safe='/')}?{query}"

    return sign
