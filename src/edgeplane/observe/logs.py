"""Logging of the platform process: text for people or one JSON object per line for log pipelines, a root level
and per-component levels (``[server.observe.logging]``).

A JSON line has ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, plus the request fields a call
passes with ``extra=`` (``request_id``, ``app``, ``env``, ``version``: the gateway's ``ctx.log_fields()``) and any
other ``extra=`` field. A field whose name says it holds a secret (token, secret, password, authorization, key,
cookie) is written as ``[redacted]``, so a careless ``extra=`` cannot leak one.

The standard library's logging is enough here: the formatter is ~60 lines, and structlog would add a dependency
and a second API to every module that logs.
"""

from __future__ import annotations

import datetime
import logging
import re
import sys
from typing import IO, Any

import orjson

from edgeplane.config.observe import LoggingSettings

__all__ = ["REQUEST_FIELDS", "JSONFormatter", "TextFormatter", "configure_logging"]

REQUEST_FIELDS = ("request_id", "app", "env", "version")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SECRET = re.compile(r"token|secret|passw|authorization|api_?key|cookie|credential", re.IGNORECASE)
# Everything a LogRecord carries by itself; any other attribute came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_HANDLER_NAME = "edgeplane"


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the request fields, other extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = "[redacted]" if _SECRET.search(key) else value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, then the request fields a call passed (``request_id=… app=…``)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = [f"{k}={getattr(record, k)}" for k in REQUEST_FIELDS if getattr(record, k, "")]
        if not fields:
            return text
        head, newline, rest = text.partition("\n")  # after the message line, before a traceback
        return f"{head} [{' '.join(fields)}]{newline}{rest}"


QUIET = {"httpx": "warning", "httpcore": "warning"}
"""Default levels of chatty libraries; ``levels`` can override them."""


def configure_logging(settings: LoggingSettings, stream: IO[str] | None = None) -> logging.Handler:
    """Install the platform's one log handler on the root logger (replacing an earlier one, so calling this twice
    is safe) and set the root and per-component levels. Returns the handler."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JSONFormatter() if settings.format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
    # httpx logs every request with its full URL at INFO (probe targets, receiver webhooks that carry secrets)
    for name, level in {**QUIET, **settings.levels}.items():
        logging.getLogger(name).setLevel(level.upper())
    return handler
