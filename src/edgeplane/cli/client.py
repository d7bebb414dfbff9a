"""Admin API client used by every CLI command, and how it finds the URL and the token."""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edgeplane.config.load import CONFIG_FILE
from edgeplane.control.tokens import TOKEN_FILE
from edgeplane.errors import EdgeplaneError

__all__ = ["AdminClient", "ClientOptions", "current_client", "current_project"]


@dataclass
class ClientOptions:
    admin_url: str | None
    token: str | None
    project: Path


def _server_table(project: Path) -> dict[str, Any]:
    path = project / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        return dict(tomllib.loads(path.read_text()).get("server") or {})
    except (tomllib.TOMLDecodeError, OSError):
        return {}


class AdminClient:
    def __init__(self, options: ClientOptions) -> None:
        server = _server_table(options.project)
        default = f"http://{server.get('admin_host', '127.0.0.1')}:{server.get('admin_port', 8788)}"
        self.base_url = (options.admin_url or os.environ.get("EDGEPLANE_ADMIN_URL") or default).rstrip("/")
        data_dirs = [options.project / str(server.get("data_dir", ".edgeplane")), Path(".edgeplane")]
        self.token = options.token or os.environ.get("EDGEPLANE_TOKEN") or self._token_file(data_dirs)
        self.http = httpx.Client(base_url=self.base_url, timeout=120.0)

    @staticmethod
    def _token_file(data_dirs: list[Path]) -> str | None:
        """The token written at first start: the project's data dir, then ./.edgeplane (where `make up` runs)."""
        for data_dir in data_dirs:
            path = data_dir / TOKEN_FILE
            if path.is_file():
                return path.read_text().strip()
        return None

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; the parsed JSON body, or EdgeplaneError with the API's code and message."""
        return self.raw(method, path, **kwargs).json()

    def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; the response itself (for non-JSON bodies), or EdgeplaneError on failure."""
        with self.stream(method, path, **kwargs) as response:
            response.read()
            return response

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A response whose body is not read yet (``iter_bytes``), or EdgeplaneError on failure."""
        if not self.token:
            raise EdgeplaneError(
                "no admin token: pass --token, set EDGEPLANE_TOKEN, or run from the project whose "
                f".edgeplane/{TOKEN_FILE} was written at first start",
                code="no_token",
            )
        headers = {"authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        try:
            with self.http.stream(method, path, headers=headers, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._error(response)
                yield response
        except httpx.ConnectError:
            raise EdgeplaneError(
                f"cannot reach the admin API at {self.base_url}: is 'edgeplane serve' (or 'make up') running?",
                code="unreachable",
            ) from None
        except httpx.HTTPError as exc:
            raise EdgeplaneError(f"admin API request failed: {exc}", code="unreachable") from None

    @staticmethod
    def _error(response: httpx.Response) -> EdgeplaneError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        err = body.get("error", {}) if isinstance(body, dict) else {}
        error = EdgeplaneError(err.get("message", response.text[:200]), code=err.get("code", "error"))
        error.details = err.get("details") or {}
        return error

    def sse(self, path: str, **params: Any) -> Generator[tuple[str, Any], None, None]:
        """Server-sent events from ``path`` as ``(event name, JSON-decoded data)`` until the server ends the
        stream (comment lines such as keep-alives are skipped); errors as for ``stream``."""
        query = {k: v for k, v in params.items() if v is not None}
        with self.stream("GET", path, params=query, headers={"accept": "text/event-stream"}) as response:
            kind = "message"
            data: list[str] = []
            for line in response.iter_lines():
                if not line:
                    if data:
                        yield kind, _decode("\n".join(data))
                    kind, data = "message", []
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    kind = value
                elif name == "data":
                    data.append(value)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs)


def _decode(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


def current_client() -> AdminClient:
    """The client for the running command (options come from the root group)."""
    import click

    return AdminClient(click.get_current_context().ensure_object(ClientOptions))


def current_project() -> Path:
    import click

    options = click.get_current_context().ensure_object(ClientOptions)
    return options.project
