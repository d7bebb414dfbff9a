"""Live tail: ``GET /v1/tail`` streams the records of matching requests as they finish (filters on app, env,
version, status, path text, method, sampling), ``edgeplane tail --format json|pretty`` prints them and stops
cleanly on Ctrl-C; in process, the hub costs nothing while nobody tails and drops (and counts) what a slow
reader cannot take."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from edgeplane.errors import BadRequest
from edgeplane.gateway.stages.observe import GatewayStats, RequestRecord
from edgeplane.observe.tail import TailFilter, TailHub
from tests.integration.harness import RunningPlatform
from tests.integration.test_rollouts import flaky

pytestmark = pytest.mark.timeout(120)

OVERRIDE = "edgeplane-version-override"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    root = tmp_path_factory.mktemp("tail")
    (root / "edgeplane.toml").write_text('[server]\ncolo = "fra"\ncountry_header = "cf-ipcountry"\n')
    p = RunningPlatform(root).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def failing(platform: RunningPlatform) -> str:
    """Deploys v1 (ok, all traffic by weight) and v2 (every answer a 500, by override header); v2's id."""
    versions: tuple[tuple[str, dict[str, Any]], ...] = (("ok", {}), ("failing", {"ERROR_RATE": 1}))
    ids: list[str] = [platform.cli_json("versions", "upload", project=flaky(platform.root, name, name, **extra))["id"]
                      for name, extra in versions]  # fmt: skip
    splits = [{"version": ids[0], "percentage": 100}, {"version": ids[1], "percentage": 0}]
    r = platform.admin.post("/v1/apps/flaky/deployments", json={"env": "production", "splits": splits})
    assert r.status_code in (200, 201), r.text
    return ids[1]


def tail(platform: RunningPlatform, send: Callable[[], Any], until: Callable[[list[dict[str, Any]]], bool],
         **params: Any) -> list[dict[str, Any]]:  # fmt: skip
    """Open the stream, run ``send`` once it is ``ready``, and collect ``request`` records until ``until`` says so
    (or 1.5 s pass without a frame)."""
    records: list[dict[str, Any]] = []
    timeout = httpx.Timeout(10, read=1.5)
    with platform.admin.stream("GET", "/v1/tail", params=params, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "event: ready"
        ready = json.loads(next(lines).removeprefix("data: "))
        assert ready["colo"] == "fra"
        sender = threading.Thread(target=send)
        sender.start()
        kind = ""
        try:
            for line in lines:
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind == "request":
                    records.append(json.loads(line.removeprefix("data: ")))
                    if until(records):
                        break
        except httpx.ReadTimeout:
            pass
        sender.join()
    return records


def test_filters_on_status_path_text_method_app_and_env(platform: RunningPlatform, failing: str) -> None:
    ids: list[str] = []

    def send() -> None:
        for i in range(3):
            assert platform.get(f"/boom/{i}").status_code == 200  # not a 5xx
        for _ in range(3):
            assert platform.get("/other", headers={OVERRIDE: failing}).status_code == 500  # path without BOOM
        assert platform.gateway.post("/boom", headers={"host": "localhost", OVERRIDE: failing}).status_code == 405
        for i in range(4):
            r = platform.get(f"/Boom/{i}", headers={OVERRIDE: failing, "cf-ipcountry": "DE"})
            assert r.status_code == 500
            ids.append(r.headers["edgeplane-request-id"])

    records = tail(platform, send, lambda got: len(got) >= 4, app="flaky", env="production", status="5xx",
                   search="BOOM", method="get")  # fmt: skip
    assert [r["path"] for r in records] == [f"/Boom/{i}" for i in range(4)]
    assert [r["request_id"] for r in records] == ids
    first = records[0]
    expected = {"status": 500, "method": "GET", "app": "flaky", "env": "production", "version_id": failing,
                "version": 2, "route": "localhost/*", "colo": "fra", "country": "DE"}  # fmt: skip
    assert {k: first[k] for k in expected} == expected
    assert first["latency_ms"] > 0 and first["time"].endswith("+00:00") and "user_id" not in first


def test_version_by_number_exact_status_and_unrouted_requests(platform: RunningPlatform, failing: str) -> None:

    def send() -> None:
        for _ in range(2):
            assert platform.get("/v", headers={OVERRIDE: failing}).status_code == 500
        for _ in range(3):
            assert platform.get("/v").status_code == 200

    records = tail(platform, send, lambda got: len(got) >= 3, app="flaky", version="v1")
    assert [(r["version"], r["status"]) for r in records] == [(1, 200)] * 3

    def unrouted() -> None:
        assert platform.get("/v").status_code == 200
        assert platform.get("/nowhere", host="unknown.example").status_code == 404

    records = tail(platform, unrouted, lambda got: len(got) >= 1, status="404,418")
    assert [(r["path"], r["app"], r["route"], r["version"]) for r in records] == [("/nowhere", "", "", None)]


@pytest.mark.usefixtures("failing")
def test_sampling_sends_about_the_asked_share(platform: RunningPlatform) -> None:
    def send() -> None:
        with httpx.Client(base_url=platform.url, headers={"host": "localhost"}) as client:
            for _ in range(200):
                assert client.get("/sampled").status_code == 200

    records = tail(platform, send, lambda got: False, search="/sampled", sample=0.5)
    assert 60 <= len(records) <= 140  # binomial(200, 0.5): 7 standard deviations either side


@pytest.mark.usefixtures("failing")
def test_bad_filters_are_refused_before_streaming(platform: RunningPlatform) -> None:
    for params, status, code in (
        ({"status": "5xy"}, 400, "invalid_request"),
        ({"sample": "0"}, 422, "invalid_request"),
        ({"sample": "1.5"}, 422, "invalid_request"),
        ({"app": "flaky", "version": "v99"}, 404, "version_not_found"),
        ({"version": "v1"}, 400, "invalid_request"),  # a number means nothing without the app
    ):
        r = platform.admin.get("/v1/tail", params=params)
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code
    assert httpx.get(f"{platform.admin_url}/v1/tail").status_code == 401  # a token is needed


class Tailing:
    """``edgeplane tail --app flaky ARGS`` in a subprocess; its output lines as they come (reader threads, since
    select() cannot see what a TextIOWrapper already buffered)."""

    def __init__(self, platform: RunningPlatform, *args: str) -> None:
        command = [sys.executable, "-m", "edgeplane", "--admin-url", platform.admin_url, "--token", platform.token,
                   "tail", "--app", "flaky", *args]  # fmt: skip
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "COLUMNS": "200"})  # fmt: skip
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.readers = [
            threading.Thread(target=lambda s=stream, q=lines: [q.put(line) for line in s], daemon=True)
            for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def line(lines: queue.Queue[str], timeout: float = 15) -> str:
        try:
            return lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no output in time") from None

    def stop(self) -> tuple[int, str]:
        """Ctrl-C; the exit code and the rest of stderr."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(15)
        for reader in self.readers:
            reader.join(5)  # they end at end of file
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        rest = []
        while not self.err.empty():
            rest.append(self.err.get())
        return code, "".join(rest)


@pytest.mark.usefixtures("failing")
def test_cli_json_prints_one_object_per_request_and_stops_on_ctrl_c(platform: RunningPlatform) -> None:
    cli = Tailing(platform, "--format", "json", "--search", "cli-json")
    try:
        assert "tailing" in cli.line(cli.err)
        sent = [platform.get(f"/cli-json/{i}").headers["edgeplane-request-id"] for i in range(3)]
        platform.get("/not-this-one")
        got = [json.loads(cli.line(cli.out)) for _ in sent]
    finally:
        code, err = cli.stop()
    assert [r["request_id"] for r in got] == sent
    assert all(r["status"] == 200 and r["app"] == "flaky" and r["version"] == 1 for r in got)
    assert code == 0 and "stopped: 3 requests shown, 0 dropped" in err


@pytest.mark.usefixtures("failing")
def test_cli_pretty_prints_a_line_per_request(platform: RunningPlatform) -> None:
    cli = Tailing(platform, "--search", "pretty-x", "--status", "2xx")
    try:
        assert "tailing" in cli.line(cli.err)
        platform.get("/pretty-x", headers={"cf-ipcountry": "JP"})
        line = cli.line(cli.out)
    finally:
        code, _ = cli.stop()
    assert code == 0
    for text in ("200", "GET", "/pretty-x", "ms", "flaky/production v1", "JP"):
        assert text in line, line


# -- the hub in process ------------------------------------------------------------------------------------------
def _record(path: str = "/", status: int = 200, **fields: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "at": time.time(), "request_id": "r1", "app": "shop", "env": "production", "version_id": "abcdef12-uuid",
        "method": "GET", "path": path, "route": "shop.example/*", "status": status, "latency_ms": 1.0,
        "bytes_in": 0, "bytes_out": 10, "client_ip": "127.0.0.1", "country": "", "cache_status": "",
        "security": "", "user_id": "", "cpu_ms": 0.0,
    }  # fmt: skip
    return RequestRecord(**{**values, **fields})


async def test_the_hub_is_an_observer_only_while_someone_tails() -> None:
    stats = GatewayStats()
    hub = TailHub(stats)
    assert stats.observers == []  # nobody tails: the gateway does not even call the hub
    with hub.subscribe(TailFilter()) as one, hub.subscribe(TailFilter.parse(status="5xx")) as five:
        assert stats.observers == [hub]
        for observer in stats.observers:
            observer(_record(status=200))
            observer(_record(status=503))
        assert [(await one.next(1)).status, (await one.next(1)).status] == [200, 503]  # type: ignore[union-attr]
        assert (await five.next(1)).status == 503  # type: ignore[union-attr]
        assert await five.next(0.01) is None
    assert stats.observers == []


async def test_a_slow_subscriber_loses_records_and_counts_them() -> None:
    hub = TailHub(GatewayStats())
    with hub.subscribe(TailFilter(), maxsize=3) as sub:
        for i in range(10):
            hub(_record(f"/{i}"))
        assert sub.dropped == 7
        assert [(await sub.next(1)).path for _ in range(3)] == ["/0", "/1", "/2"]  # type: ignore[union-attr]
        hub.close()  # the platform stops: the stream ends
        assert await sub.next(1) is None and sub.closed


def test_filter_fields() -> None:
    f = TailFilter.parse(app="shop", env="production", version="abcdef", status="4xx,503", search="API",
                         method="get,post", sample=1)  # fmt: skip
    assert f.matches(_record("/v1/api/x", 404)) and f.matches(_record("/API", 503, method="POST"))
    for record in (_record("/api", 200), _record("/api", 500), _record("/web", 404), _record("/api", 404, app="x"),
                   _record("/api", 404, env="staging"), _record("/api", 404, version_id="ffff"),
                   _record("/api", 404, method="DELETE")):  # fmt: skip
        assert not f.matches(record)
    for bad in ({"status": "6xx"}, {"status": "20"}, {"sample": 0.0}, {"sample": 2.0}):
        with pytest.raises(BadRequest):
            TailFilter.parse(**bad)
