"""``edgeplane init`` writes a working project; ``edgeplane dev`` serves it and reloads on change."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port


def test_init_then_dev_reloads_on_change(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    init = subprocess.run(
        [sys.executable, "-m", "edgeplane", "init", str(project)], capture_output=True, text=True, check=False
    )
    assert init.returncode == 0, init.stderr
    assert {p.name for p in project.iterdir()} >= {"edgeplane.toml", "app.py", ".gitignore"}
    again = subprocess.run(
        [sys.executable, "-m", "edgeplane", "init", str(project)], capture_output=True, text=True, check=False
    )
    assert again.returncode == 1 and "already exists" in again.stderr

    port, admin_port = free_port(), free_port()
    log = (tmp_path / "dev.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeplane", "--dir", str(project), "dev", "--port", str(port),
         "--admin-port", str(admin_port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        first = _wait_for(f"http://127.0.0.1:{port}/", lambda r: r.status_code == 200, proc, tmp_path)
        assert first.json()["message"] == "hello from development" and first.json()["env"] == "development"
        app_py = project / "app.py"
        app_py.write_text(app_py.read_text().replace('"message": env_of(request).GREETING', '"message": "changed"'))
        changed = _wait_for(f"http://127.0.0.1:{port}/", lambda r: r.json().get("message") == "changed", proc, tmp_path)
        assert changed.headers["edgeplane-version"] != first.headers["edgeplane-version"]
        # A change that breaks the worker keeps the previous version serving and says why.
        app_py.write_text("raise SystemExit('syntax of doom')\n")
        deadline = time.monotonic() + 30
        while b"reload failed" not in (tmp_path / "dev.log").read_bytes():
            assert time.monotonic() < deadline, (tmp_path / "dev.log").read_text()
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/").json()["message"] == "changed"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
        log.close()
    assert proc.returncode == 0, (tmp_path / "dev.log").read_text()


def _wait_for(url: str, ok, proc: subprocess.Popen[bytes], tmp_path: Path, timeout: float = 40) -> httpx.Response:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / "dev.log").read_text()
        try:
            response = httpx.get(url, timeout=2)
            if ok(response):
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError((tmp_path / "dev.log").read_text())
