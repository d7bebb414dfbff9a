"""The admin API in-process (httpx ASGI transport): auth, scopes, structured errors, bundle validation."""

from __future__ import annotations

import asyncio
import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from edgeplane.config.server import ServerConfig
from edgeplane.control.api import create_admin_app
from edgeplane.control.service import ControlPlane
from edgeplane.gateway.app import Gateway
from edgeplane.runtime.bundles import pack_directory

APP_TOML = 'name = "demo"\nmain = "app.py"\n'


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str, ControlPlane]]:
    config = ServerConfig(data_dir=tmp_path / "data")
    control = ControlPlane(config, Gateway(config))
    token = await control.start()
    assert token is not None
    transport = httpx.ASGITransport(app=create_admin_app(control))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client, token, control
    await control.close()


def _bundle(tmp_path: Path, files: dict[str, str]) -> bytes:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    for name, text in files.items():
        (project / name).write_text(text)
    return pack_directory(project)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_every_v1_endpoint_needs_a_token(admin) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = admin
    schema = (await client.get("/openapi.json")).json()
    paths = [p for p in schema["paths"] if p.startswith("/v1/")]
    assert len(paths) >= 8
    for path in paths:
        for method in schema["paths"][path]:
            url = path.replace("{app}", "demo").replace("{ref}", "v1").replace("{token_id}", "x")
            response = await client.request(method.upper(), url)
            assert response.status_code == 401, (method, path)
            assert response.json()["error"]["code"] == "unauthorized"
    wrong = await client.get("/v1/apps", headers=bearer("ep_wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "invalid or revoked token"


async def test_scopes_read_deploy_admin(admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, token, _ = admin
    made = {}
    for scope in ("read", "deploy"):
        r = await client.post("/v1/tokens", json={"name": f"{scope}-bot", "scopes": [scope]}, headers=bearer(token))
        assert r.status_code == 201 and r.json()["token"].startswith("ep_")
        made[scope] = r.json()["token"]
    bundle = _bundle(tmp_path, {"edgeplane.toml": APP_TOML, "app.py": "app = None\n"})
    headers = {"content-type": "application/gzip"}
    denied = await client.post("/v1/apps/demo/versions", content=bundle, headers={**headers, **bearer(made["read"])})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "insufficient_scope"
    assert (await client.get("/v1/apps", headers=bearer(made["read"]))).status_code == 200
    ok = await client.post("/v1/apps/demo/versions", content=bundle, headers={**headers, **bearer(made["deploy"])})
    assert ok.status_code == 201 and ok.json()["author"] == "deploy-bot"
    assert (await client.get("/v1/tokens", headers=bearer(made["deploy"]))).status_code == 403
    assert (await client.get("/v1/audit", headers=bearer(made["deploy"]))).status_code == 403
    bad = await client.post("/v1/tokens", json={"name": "x", "scopes": ["root"]}, headers=bearer(token))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_scope"


async def test_tokens_are_stored_hashed_listed_without_secrets_and_revocable(admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, token, control = admin
    created = (await client.post("/v1/tokens", json={"name": "ci", "scopes": ["deploy"]}, headers=bearer(token))).json()
    secret = created["token"]
    listed = (await client.get("/v1/tokens", headers=bearer(token))).json()["tokens"]
    assert {t["name"] for t in listed} == {"admin", "ci"}
    assert all("token" not in t and "hash" not in t for t in listed)
    db = (control.data_dir / "state.db").read_bytes() + b"".join(
        p.read_bytes() for p in control.data_dir.glob("state.db-*")
    )
    assert secret.encode() not in db and token.encode() not in db
    assert (await client.get("/v1/apps", headers=bearer(secret))).status_code == 200
    assert (await client.delete(f"/v1/tokens/{created['id']}", headers=bearer(token))).status_code == 200
    assert (await client.get("/v1/apps", headers=bearer(secret))).status_code == 401
    again = await client.delete(f"/v1/tokens/{created['id']}", headers=bearer(token))
    assert again.status_code == 404 and again.json()["error"]["code"] == "token_not_found"
    actions = [e["action"] for e in (await client.get("/v1/audit", headers=bearer(token))).json()["entries"]]
    assert actions[:2] == ["token.revoke", "token.create"]


async def test_bad_bundles_are_rejected_with_clear_codes(admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, token, _ = admin
    headers = {**bearer(token), "content-type": "application/gzip"}

    async def upload(data: bytes, app: str = "demo") -> httpx.Response:
        return await client.post(f"/v1/apps/{app}/versions", content=data, headers=headers)

    r = await upload(b"not a tarball")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bundle_invalid"
    r = await upload(_bundle(tmp_path, {"app.py": "app = None\n"}))
    assert r.status_code == 400 and "no edgeplane.toml" in r.json()["error"]["message"]
    (tmp_path / "project" / "app.py").unlink()
    r = await upload(_bundle(tmp_path, {"edgeplane.toml": APP_TOML.replace("app.py", "missing.py")}))
    assert r.status_code == 400 and "not in the bundle" in r.json()["error"]["message"]
    r = await upload(_bundle(tmp_path, {"edgeplane.toml": APP_TOML + "colour = 1\n", "app.py": ""}))
    assert r.status_code == 400 and r.json()["error"]["code"] == "config_invalid"
    assert "key 'colour'" in r.json()["error"]["message"]
    r = await upload(_bundle(tmp_path, {"edgeplane.toml": APP_TOML, "app.py": ""}), app="other")
    assert r.status_code == 400 and r.json()["error"]["code"] == "app_mismatch"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    r = await upload(buf.getvalue())
    assert r.status_code == 400 and r.json()["error"]["code"] == "bundle_invalid"
    assert (await client.get("/v1/apps/demo/versions", headers=bearer(token))).json()["versions"] == []


async def test_errors_are_structured_json(admin) -> None:  # type: ignore[no-untyped-def]
    client, token, _ = admin
    r = await client.get("/v1/nope", headers=bearer(token))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await client.post("/v1/apps/demo/deployments", json={"splits": []}, headers=bearer(token))
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = await client.post("/v1/apps/demo/deployments", json={"splits": [{"version": "v1"}]}, headers=bearer(token))
    assert r.status_code == 404 and r.json()["error"]["code"] == "app_not_found"
    r = await client.post("/v1/apps/demo/rollback", json={}, headers=bearer(token))
    assert r.status_code == 404 and r.json()["error"]["code"] == "deployment_not_found"
    assert (await client.get("/health")).json()["status"] == "healthy"


async def test_first_start_token_is_created_once(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path / "data")
    first = ControlPlane(config, Gateway(config))
    token = await first.start()
    await first.close()
    token_file = tmp_path / "data" / "admin.token"
    assert token and token_file.read_text().strip() == token
    assert token_file.stat().st_mode & 0o077 == 0
    second = ControlPlane(config, Gateway(config))
    assert await second.start() is None
    await second.close()


async def test_concurrent_uploads_get_distinct_numbers(admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, token, _ = admin
    headers = {**bearer(token), "content-type": "application/gzip"}
    bundles = []
    for i in range(6):
        project = tmp_path / f"p{i}"
        project.mkdir()
        (project / "edgeplane.toml").write_text(APP_TOML)
        (project / "app.py").write_text(f"app = {i}\n")
        bundles.append(pack_directory(project))
    responses = await asyncio.gather(
        *(client.post("/v1/apps/demo/versions", content=b, headers=headers) for b in bundles)
    )
    assert [r.status_code for r in responses] == [201] * 6
    assert sorted(r.json()["number"] for r in responses) == [1, 2, 3, 4, 5, 6]
