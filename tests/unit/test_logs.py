"""Platform logging: JSON lines a log pipeline can parse, request fields from ``extra=``, per-component levels,
secrets redacted, and text lines that still show which request a line is about."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from edgeplane.config.observe import LoggingSettings
from edgeplane.gateway.types import RequestContext
from edgeplane.observe.logs import configure_logging


@pytest.fixture
def configured() -> Iterator[Any]:
    """configure_logging into a buffer; afterwards the root logger and the touched loggers are as before."""
    root = logging.getLogger()
    saved_level, touched = root.level, ["edgeplane.gateway", "edgeplane.control"]
    saved = {name: logging.getLogger(name).level for name in touched}
    handlers: list[logging.Handler] = []

    def configure(**settings: Any) -> io.StringIO:
        stream = io.StringIO()
        handlers.append(configure_logging(LoggingSettings(**settings), stream))
        return stream

    yield configure
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(saved_level)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_time_level_logger_message_and_request_fields(configured: Any) -> None:
    stream = configured(format="json")
    fields = {"request_id": "abc123", "app": "shop", "env": "production", "version": "0f3c"}
    logging.getLogger("edgeplane.gateway").warning("GET /x failed: %s", "worker timeout", extra=fields)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("edgeplane.control").exception("restore failed")
    first, second = lines(stream)
    assert first["level"] == "warning" and first["logger"] == "edgeplane.gateway"
    assert first["message"] == "GET /x failed: worker timeout"
    assert {k: first[k] for k in fields} == fields
    assert first["time"].endswith("+00:00") and first["time"][:4].isdigit()  # ISO 8601, UTC
    assert second["level"] == "error" and "ValueError: boom" in second["exception"]


def test_a_second_configure_replaces_the_handler_instead_of_doubling_lines(configured: Any) -> None:
    configured(format="json")
    stream = configured(format="json")
    logging.getLogger("edgeplane.control").warning("once")
    assert [line["message"] for line in lines(stream)] == ["once"]
    assert sum(h.get_name() == "edgeplane" for h in logging.getLogger().handlers) == 1


def test_levels_per_component(configured: Any) -> None:
    stream = configured(format="json", level="warning", levels={"edgeplane.gateway": "debug"})
    logging.getLogger("edgeplane.gateway.dispatch").debug("gateway detail")  # a child inherits the level
    logging.getLogger("edgeplane.control").info("control chatter")
    logging.getLogger("edgeplane.control").warning("control problem")
    assert [(line["logger"], line["message"]) for line in lines(stream)] == [
        ("edgeplane.gateway.dispatch", "gateway detail"),
        ("edgeplane.control", "control problem"),
    ]


def test_secret_fields_are_redacted(configured: Any) -> None:
    stream = configured(format="json")
    secrets = {"token": "ep_live_123", "api_key": "k-1", "authorization": "Bearer x", "smtp_password": "hunter2"}
    logging.getLogger("edgeplane.control").warning("receiver failed", extra={**secrets, "receiver": "ops"})
    (line,) = lines(stream)
    assert all(line[k] == "[redacted]" for k in secrets) and line["receiver"] == "ops"
    assert not any(value in stream.getvalue() for value in secrets.values())


def test_text_lines_name_the_request(configured: Any) -> None:
    stream = configured(format="text")
    logging.getLogger("edgeplane.gateway").warning("worker failed", extra={"request_id": "abc", "app": "shop"})
    logging.getLogger("edgeplane.gateway").warning("plain")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("WARNING edgeplane.gateway: worker failed [request_id=abc app=shop]")
    assert second.endswith("WARNING edgeplane.gateway: plain")


def test_the_gateway_context_gives_the_request_fields() -> None:
    class Target:
        app, env = "shop", "staging"

    class Version:
        version_id = "0f3c-uuid"

    ctx = RequestContext(b"req-1", {}, 0.0)
    assert ctx.log_fields() == {"request_id": "req-1", "app": "", "env": "", "version": ""}
    ctx.target, ctx.version = Target(), Version()
    assert ctx.log_fields() == {"request_id": "req-1", "app": "shop", "env": "staging", "version": "0f3c-uuid"}
