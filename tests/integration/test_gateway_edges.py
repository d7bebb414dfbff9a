"""Request limits, streaming both ways, upstream workers (blue/green between two external services)."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.integration.harness import RunningPlatform, make_app


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    root = tmp_path_factory.mktemp("edges")
    (root / "edgeplane.toml").write_text(
        textwrap.dedent("""
        name = "settings-only"
        main = "unused.py"
        [server]
        max_header_bytes = 4096
        max_body_bytes = 1048576
        country_header = "cf-ipcountry"
        client_ip_header = "x-forwarded-for"
        colo = "ams"
        """)
    )
    p = RunningPlatform(root).start()
    try:
        project = make_app(p.root, "probe")
        assert p.cli("versions", "upload", project=project).returncode == 0
        assert p.cli("deploy", "v1", "--app", "probe").returncode == 0
        yield p
    finally:
        p.stop()


def test_server_settings_come_from_edgeplane_toml(platform: RunningPlatform) -> None:
    body = platform.get("/whoami", headers={"cf-ipcountry": "NL"}).json()
    assert body["country"] == "NL" and body["colo"] == "ams"


def test_oversized_headers_get_431(platform: RunningPlatform) -> None:
    r = platform.get("/whoami", headers={"x-big": "a" * 5000})
    assert r.status_code == 431 and r.json()["error"]["code"] == "headers_too_large"


def test_oversized_declared_body_gets_413_before_reaching_the_worker(platform: RunningPlatform) -> None:
    r = platform.gateway.post("/echo", content=b"x" * (1024 * 1024 + 1), headers={"host": "localhost"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_oversized_chunked_body_gets_413(platform: RunningPlatform) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"y" * 100_000

    r = platform.gateway.post("/echo", content=chunks(), headers={"host": "localhost"})
    assert r.status_code == 413


def test_streamed_request_and_response_bodies(platform: RunningPlatform) -> None:
    def chunks() -> Iterator[bytes]:
        for i in range(8):
            yield bytes([65 + i]) * 50_000

    r = platform.gateway.post("/echo", content=chunks(), headers={"host": "localhost"})
    assert r.status_code == 200 and r.json() == {"length": 400_000, "head": "A" * 16}
    with platform.gateway.stream("GET", "/big?mb=32", headers={"host": "localhost"}) as response:
        total = sum(len(chunk) for chunk in response.iter_bytes())
    assert total == 32 * 1024 * 1024


def test_head_and_keepalive_reuse(platform: RunningPlatform) -> None:
    for _ in range(3):
        head = platform.gateway.head("/whoami", headers={"host": "localhost"})
        assert head.status_code == 200 and head.content == b""
        assert platform.get("/whoami").status_code == 200


def test_malformed_http_is_rejected_without_killing_the_gateway(platform: RunningPlatform) -> None:
    with socket.create_connection(("127.0.0.1", platform.port), timeout=5) as s:
        s.sendall(b"GARBAGE\x00 / HTTP/9\r\n\r\n")
        reply = s.recv(1024)
    assert reply.startswith(b"HTTP/1.1 400")
    assert platform.get("/whoami").status_code == 200


def test_client_cannot_forge_gateway_headers(platform: RunningPlatform) -> None:
    body = platform.get("/whoami", headers={"edgeplane-client-ip": "1.2.3.4", "edgeplane-env": "admin"}).json()
    assert body["client_ip"] == "127.0.0.1" and body["env"] == "production"
    # Behind one trusted proxy only the last X-Forwarded-For value is the client; earlier ones are client-made.
    body = platform.get("/whoami", headers={"x-forwarded-for": "6.6.6.6, 203.0.113.7"}).json()
    assert body["client_ip"] == "203.0.113.7"


def _read_response(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(
        next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    )
    while len(rest) < length:
        rest += s.recv(65536)
    return head + b"\r\n\r\n" + rest


def test_expect_100_continue_does_not_desynchronise_connections(platform: RunningPlatform) -> None:
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", platform.port), timeout=10) as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n")
            assert s.recv(1024).startswith(b"HTTP/1.1 100")
            s.sendall(b"hello")
            reply = _read_response(s)
        assert reply.startswith(b"HTTP/1.1 200") and b'"length":5' in reply, reply
    for _ in range(10):  # no connection in the pool holds someone else's response
        assert platform.get("/whoami").json()["path"] == "/whoami"


def test_client_leaving_mid_upload_never_reaches_the_app(platform: RunningPlatform) -> None:
    with socket.create_connection(("127.0.0.1", platform.port), timeout=10) as s:
        s.sendall(b"PUT /kv/partial HTTP/1.1\r\nhost: localhost\r\ncontent-length: 1000\r\n\r\n0123456789")
        time.sleep(0.2)
    time.sleep(0.5)
    assert platform.get("/kv/partial").json()["value"] is None


UPSTREAM = textwrap.dedent(r"""
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    NAME = sys.argv[2]

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            if self.path == "/eof":  # no length, no chunking: the body ends when the connection closes
                self.wfile.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + b"until-close " * 5000)
                self.close_connection = True
                return
            if self.path == "/not-modified":
                self.send_response(304)
                self.send_header("content-length", "42")
                self.end_headers()
                return
            body = f"{NAME} {self.path}".encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


@pytest.fixture
def upstreams(tmp_path: Path) -> Iterator[dict[str, int]]:
    script = tmp_path / "upstream.py"
    script.write_text(UPSTREAM)
    ports = {"blue": free_port(), "green": free_port()}
    procs = [subprocess.Popen([sys.executable, str(script), str(port), name]) for name, port in ports.items()]
    for port in ports.values():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
    yield ports
    for proc in procs:
        proc.terminate()
        proc.wait()


def _upstream_app(root: Path, name: str, port: int, base: str = "") -> Path:
    project = root / f"svc-{name}"
    project.mkdir()
    (project / "edgeplane.toml").write_text(
        f'name = "svc"\nupstream = "http://127.0.0.1:{port}{base}"\n[env.production]\nroutes = ["svc.localhost/*"]\n'
    )
    return project


def test_blue_green_between_two_upstream_services(platform: RunningPlatform, upstreams: dict[str, int]) -> None:
    blue = _upstream_app(platform.root, "blue", upstreams["blue"], base="/base")
    green = _upstream_app(platform.root, "green", upstreams["green"])
    assert platform.cli("versions", "upload", project=blue).returncode == 0
    assert platform.cli("versions", "upload", project=green).returncode == 0
    assert platform.cli("deploy", "v1", "--app", "svc").returncode == 0
    assert platform.get("/hello?q=1", host="svc.localhost").text == "blue /base/hello?q=1"
    assert platform.cli("deploy", "v1@0", "v2@100", "--app", "svc").returncode == 0
    assert platform.get("/hello", host="svc.localhost").text == "green /hello"
    v1 = platform.cli_json("versions", "view", "v1", "--app", "svc")["id"]
    preview = platform.get("/x", host="svc.localhost", headers={"edgeplane-version-override": v1})
    assert preview.text == "blue /base/x"  # a 0% version is reachable by override only
    assert platform.cli("rollback", "v1", "--app", "svc").returncode == 0
    assert platform.get("/hello", host="svc.localhost").text == "blue /base/hello"


def test_upstream_framing_eof_bodies_and_304(platform: RunningPlatform, upstreams: dict[str, int]) -> None:
    project = _upstream_app(platform.root, "framing", upstreams["blue"])
    text = (project / "edgeplane.toml").read_text().replace('name = "svc"', 'name = "framing"')
    (project / "edgeplane.toml").write_text(text.replace("svc.localhost", "framing.localhost"))
    assert platform.cli("versions", "upload", project=project).returncode == 0
    assert platform.cli("deploy", "v1", "--app", "framing").returncode == 0
    eof = platform.get("/eof", host="framing.localhost")
    assert eof.status_code == 200 and eof.content == b"until-close " * 5000
    for _ in range(3):
        assert platform.get("/not-modified", host="framing.localhost").status_code == 304
        assert platform.get("/hello", host="framing.localhost").text == "blue /hello"
    assert "Traceback" not in platform.log()


def test_unreachable_upstream_fails_to_deploy(platform: RunningPlatform) -> None:
    dead = _upstream_app(platform.root, "dead", free_port())
    text = (dead / "edgeplane.toml").read_text().replace('name = "svc"', 'name = "dead"')
    (dead / "edgeplane.toml").write_text(
        text.replace("svc.localhost", "dead.localhost") + "[runtime]\nstartup_timeout = 1\n"
    )
    assert platform.cli("versions", "upload", project=dead).returncode == 0
    result = platform.cli("deploy", "v1", "--app", "dead")
    assert result.returncode == 1 and "worker_start_failed" in result.stderr and "not healthy" in result.stderr


def _serve_upstream(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    script = tmp_path / "upstream-heal.py"
    script.write_text(UPSTREAM)
    proc = subprocess.Popen([sys.executable, str(script), str(port), "healed"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("upstream did not start")


def test_a_version_down_at_startup_comes_back_without_a_redeploy(platform: RunningPlatform, tmp_path: Path) -> None:
    port = free_port()
    upstream = _serve_upstream(tmp_path, port)
    project = _upstream_app(platform.root, "heal", port)
    text = (project / "edgeplane.toml").read_text().replace('name = "svc"', 'name = "heal"')
    (project / "edgeplane.toml").write_text(
        text.replace("svc.localhost", "heal.localhost") + "[runtime]\nstartup_timeout = 1\n"
    )
    assert platform.cli("versions", "upload", project=project).returncode == 0
    assert platform.cli("deploy", "v1", "--app", "heal").returncode == 0
    assert platform.get("/x", host="heal.localhost").text == "healed /x"
    upstream.terminate()
    upstream.wait()
    platform.stop()
    platform.start()  # the upstream is down: the version cannot be restored
    down = platform.get("/x", host="heal.localhost")
    assert down.status_code == 503 and down.json()["error"]["code"] == "no_healthy_worker"
    upstream = _serve_upstream(tmp_path, port)
    try:
        deadline = time.monotonic() + 20
        while platform.get("/x", host="heal.localhost").status_code != 200:
            assert time.monotonic() < deadline, "the version was not restored"
            time.sleep(0.2)
        assert platform.get("/x", host="heal.localhost").text == "healed /x"
        assert platform.get("/whoami").status_code == 200  # the rest kept working
    finally:
        upstream.terminate()
        upstream.wait()
