"""List cursors shared by the bindings: the last key returned, URL-safe base64 (as Cloudflare's look)."""

from __future__ import annotations

import base64
import binascii

from edgeplane.bindings.errors import BindingError

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, code: str) -> str:
    """The key a cursor stands for; BindingError ``code`` if it is not one ``encode_cursor`` made."""
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BindingError("cursor is not one returned by list()", code=code) from None
