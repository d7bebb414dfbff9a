"""Traces on a real platform: spans POSTed as OTLP/HTTP JSON to a local collector, W3C traceparent continued and
forwarded to the worker, and requests unharmed when the collector is down."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.integration.harness import RunningPlatform, make_app

pytestmark = pytest.mark.timeout(120)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


class Collector:
    """An OTLP/HTTP receiver on 127.0.0.1 that records every POST (path, headers, JSON body)."""

    def __init__(self, port: int) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                collector.posts.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def spans(self) -> list[dict[str, Any]]:
        return [
            span
            for _, _, body in list(self.posts)
            for resource in body["resourceSpans"]
            for scope in resource["scopeSpans"]
            for span in scope["spans"]
        ]

    def wait_for(self, trace_id: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [s for s in self.spans() if s["traceId"] == trace_id]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {count} spans of trace {trace_id}: {self.spans()}")


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    c = Collector(free_port())
    yield c
    c.stop()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[RunningPlatform]:
    root = tmp_path_factory.mktemp("tracing")
    (root / "edgeplane.toml").write_text(
        textwrap.dedent(f"""
        name = "settings-only"
        main = "unused.py"
        [server]
        colo = "ams"
        [server.observe.tracing]
        otlp_endpoint = "http://127.0.0.1:{collector.server.server_port}/v1/traces"
        sample = 1.0
        service_name = "edge-test"
        headers = {{ "x-api-key" = "k1" }}
        """)
    )
    p = RunningPlatform(root).start()
    try:
        assert p.cli("versions", "upload", project=make_app(p.root, "echo", source="echo")).returncode == 0
        assert p.cli("deploy", "v1", "--app", "echo").returncode == 0
        yield p
    finally:
        p.stop()


def attrs(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_incoming_traceparent_is_continued_and_forwarded_to_the_worker(
    platform: RunningPlatform, collector: Collector
) -> None:
    response = platform.get("/headers", headers={"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": "k=v"})
    assert response.status_code == 200
    version = response.headers["edgeplane-version"]
    seen = response.json()
    assert seen["tracestate"] == "k=v"
    version_field, trace_id, worker_parent, flags = seen["traceparent"].split("-")
    assert (version_field, trace_id, flags) == ("00", TRACE, "01") and worker_parent != PARENT

    spans = {s["kind"]: s for s in collector.wait_for(TRACE, 2)}
    server, proxy = spans[2], spans[3]
    assert server["parentSpanId"] == PARENT and proxy["parentSpanId"] == server["spanId"]
    assert proxy["spanId"] == worker_parent  # the app's own spans hang under the gateway's proxy span
    assert len(server["spanId"]) == 16 and server["name"] == "GET /*"
    assert attrs(server) == {
        "http.request.method": "GET", "url.path": "/headers", "http.response.status_code": "200",
        "server.address": "localhost", "edgeplane.colo": "ams", "edgeplane.request_id": response.headers[
            "edgeplane-request-id"], "http.route": "/*", "edgeplane.route": "localhost/*", "edgeplane.app": "echo",
        "edgeplane.env": "production", "edgeplane.version": version,
    }  # fmt: skip
    assert server.get("status", {}).get("code", 0) == 0
    start, end = int(server["startTimeUnixNano"]), int(server["endTimeUnixNano"])
    assert abs(start / 1e9 - time.time()) < 60 and start < end
    events = {e["name"]: int(e["timeUnixNano"]) for e in server["events"]}
    assert start <= events["routed"] <= events["upstream.response_headers"] <= end
    assert int(proxy["startTimeUnixNano"]) == events["routed"] and proxy["endTimeUnixNano"] == server["endTimeUnixNano"]

    path, headers, body = collector.posts[-1]
    assert path == "/v1/traces" and headers["content-type"] == "application/json" and headers["x-api-key"] == "k1"
    resource = attrs(body["resourceSpans"][0]["resource"])
    assert resource["service.name"] == "edge-test" and resource["edgeplane.colo"] == "ams"


def test_requests_without_a_sampled_parent_start_new_traces(platform: RunningPlatform, collector: Collector) -> None:
    failed = platform.get("/status/503")
    unsampled = platform.get("/headers", headers={"traceparent": f"00-{'a' * 32}-{PARENT}-00"})
    new_trace = unsampled.json()["traceparent"].split("-")[1]
    assert failed.status_code == 503 and new_trace != "a" * 32
    [server] = [s for s in collector.wait_for(new_trace, 2) if s["kind"] == 2]
    assert "parentSpanId" not in server
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        errors = [s for s in collector.spans() if s["kind"] == 2 and attrs(s)["url.path"] == "/status/503"]
        if errors:
            break
        time.sleep(0.05)
    assert attrs(errors[0])["http.response.status_code"] == "503" and errors[0]["status"]["code"] == 2
    unrouted = platform.get("/", host="nowhere.example")
    assert unrouted.status_code == 404


def test_a_down_collector_never_holds_requests_back(platform: RunningPlatform, collector: Collector) -> None:
    collector.stop()
    started = time.monotonic()
    for _ in range(20):
        assert platform.get("/").status_code == 200
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 15
    failed = 0.0
    while time.monotonic() < deadline and failed < 40:  # 20 requests, two spans each
        text = platform.admin.get("/metrics").text
        counts = {s.labels["result"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
                  if s.name == "edgeplane_trace_spans_total"}  # fmt: skip
        failed = counts.get("failed", 0)
        time.sleep(0.2)
    assert failed >= 40 and counts["exported"] >= 4
