"""Start the real platform (gateway + admin API + worker processes) in a subprocess, and drive it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port

APPS = Path(__file__).parent / "apps"


class RunningPlatform:
    def __init__(self, root: Path, extra_args: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.admin_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.log_path = root / "serve.log"
        self._args = extra_args or []
        self._env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.token = ""

    def start(self, timeout: float = 30) -> RunningPlatform:
        args = [sys.executable, "-m", "edgeplane", "serve", "--port", str(self.port),
                "--admin-port", str(self.admin_port), "--data-dir", str(self.data), *self._args]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                args, cwd=self.root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self._env},
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"platform exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if httpx.get(f"{self.admin_url}/health", timeout=1).status_code in (200, 503):  # 503: up, unhealthy
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"platform did not start:\n{self.log()}")
        token_file = self.data / "admin.token"
        try:
            self.token = self._env.get("EDGEPLANE_ADMIN_TOKEN") or token_file.read_text().strip()
        except OSError:  # e.g. a node sharing another's store writes no token file: do not leave it running
            self.proc.kill()
            self.proc.wait()
            raise
        self.gateway = httpx.Client(base_url=self.url, timeout=30)
        self.admin = httpx.Client(
            base_url=self.admin_url, timeout=60, headers={"authorization": f"Bearer {self.token}"}
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        for client in (getattr(self, "gateway", None), getattr(self, "admin", None)):
            if client is not None:
                client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    # -- helpers -------------------------------------------------------------------------------------------
    def cli(
        self, *args: str, project: Path | None = None, token: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [
            sys.executable,
            "-m",
            "edgeplane",
            "--admin-url",
            self.admin_url,
            "--token",
            token or self.token,
        ]
        if project is not None:
            cmd += ["--dir", str(project)]
        return subprocess.run(
            [*cmd, *args],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
            env={**os.environ, "COLUMNS": "200"},  # tables as wide as a terminal, not rich's 80 for pipes
        )

    def cli_json(self, *args: str, project: Path | None = None) -> Any:
        result = self.cli("--json", *args, project=project)
        assert result.returncode == 0, result.stderr + result.stdout
        return json.loads(result.stdout)

    def get(self, path: str, *, host: str = "localhost", headers: dict[str, str] | None = None) -> httpx.Response:
        return self.gateway.get(path, headers={"host": host, **(headers or {})})

    def served_by(self, path: str = "/whoami", **kwargs: Any) -> str:
        response = self.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return str(response.headers["edgeplane-version"])

    def pool(self, app: str, env: str, version_id: str) -> dict[str, Any]:
        status = self.admin.get("/v1/status").json()
        pool: dict[str, Any] = status["pools"][f"{app}/{env}/{version_id}"]
        return pool


def make_app(root: Path, name: str, *, source: str = "probe", label: str | None = None) -> Path:
    """Copy a test app to ``root/name``, optionally changing its LABEL var (a different bundle)."""
    target = root / name
    shutil.copytree(APPS / source, target)
    if label is not None:
        config = target / "edgeplane.toml"
        config.write_text(config.read_text().replace('LABEL = "one"', f'LABEL = "{label}"'))
    return target
