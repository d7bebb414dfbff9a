"""Trace decisions (W3C traceparent, sampling) and the exporter's bounds when the collector is down."""

from __future__ import annotations

import time

import pytest

from edgeplane.gateway.types import RequestContext
from edgeplane.observe.tracing import OTLPExporter, Span, Tracer, parse_traceparent, spans_json
from tests.conftest import free_port

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"00-{TRACE}-{PARENT}-01", (TRACE, PARENT, True)),
        (f"00-{TRACE}-{PARENT}-00", (TRACE, PARENT, False)),
        (f" 01-{TRACE}-{PARENT}-03-future ", (TRACE, PARENT, True)),  # a later version may append fields
        (f"00-{TRACE}-{PARENT}-01-extra", None),  # version 00 may not
        (f"ff-{TRACE}-{PARENT}-01", None),
        (f"00-{'0' * 32}-{PARENT}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE.upper()}-{PARENT}-01", None),
        ("garbage", None),
    ],
)
def test_parse_traceparent(header: str, expected: tuple[str, str, bool] | None) -> None:
    assert parse_traceparent(header.encode()) == expected


def ctx_with(headers: dict[bytes, bytes] | None = None) -> RequestContext:
    return RequestContext(b"req1", headers or {}, time.perf_counter())


def test_a_sampled_parent_is_continued_even_at_sample_zero() -> None:
    tracer = Tracer(0.0, lambda s: None, seed=1)
    ctx = ctx_with({b"traceparent": f"00-{TRACE}-{PARENT}-01".encode()})
    tracer.begin(ctx)
    span: Span = ctx.trace
    assert (span.trace_id, span.parent_id) == (TRACE, PARENT)
    assert span.traceparent == f"00-{TRACE}-{span.client_id}-01".encode() and span.client_id != span.span_id
    unsampled = ctx_with({b"traceparent": f"00-{TRACE}-{PARENT}-00".encode()})
    tracer.begin(unsampled)
    assert unsampled.trace is None
    tracer.begin(plain := ctx_with())
    assert plain.trace is None


def test_sample_ratio_starts_new_traces() -> None:
    tracer = Tracer(0.25, lambda s: None, seed=7)
    traced = 0
    for _ in range(4000):
        ctx = ctx_with()
        tracer.begin(ctx)
        if ctx.trace is not None:
            traced += 1
            assert len(ctx.trace.trace_id) == 32 and ctx.trace.parent_id == ""
    assert 800 < traced < 1200


def finished_span() -> Span:
    span = Span(lambda s: None, TRACE, PARENT, "1" * 16, "2" * 16, time.perf_counter())
    span.method, span.path, span.route, span.status, span.duration = "GET", "/x", "(fallback)", 200, 0.01
    span.request_id = b"r"
    return span


def test_unrouted_request_has_only_a_server_span() -> None:
    [server] = spans_json(finished_span(), "ams")
    assert server["kind"] == 2 and server["parentSpanId"] == PARENT and server["name"] == "GET"
    assert int(server["endTimeUnixNano"]) - int(server["startTimeUnixNano"]) == pytest.approx(10_000_000, abs=2)
    assert not any(a["key"] == "http.route" for a in server["attributes"])


async def test_queue_is_bounded_and_a_down_collector_costs_counted_spans() -> None:
    # a long interval and a large batch keep the exporter's own loop asleep: this test flushes by hand
    exporter = OTLPExporter(f"http://127.0.0.1:{free_port()}/v1/traces", colo="ams", max_queue=4, batch_size=100,
                            interval=60, backoff=0.01, timeout=1.0)  # fmt: skip
    await exporter.start()
    try:
        started = time.perf_counter()
        for _ in range(10):
            exporter.add(finished_span())
        assert time.perf_counter() - started < 0.01  # adding never waits for the network
        assert exporter.counts() == {"exported": 0, "dropped": 6, "failed": 0}
        await exporter.flush(attempts=2)
        assert exporter.counts() == {"exported": 0, "dropped": 6, "failed": 4}
    finally:
        await exporter.close()
