"""D1 through the platform: migrations from the CLI, a worker's env.DB, `edgeplane d1 execute`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.harness import RunningPlatform, make_app


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    p = RunningPlatform(tmp_path_factory.mktemp("d1")).start()
    try:
        yield p
    finally:
        p.stop()


def test_migrations_worker_and_execute(platform: RunningPlatform) -> None:
    project = make_app(platform.root, "probe")
    assert platform.cli("versions", "upload", project=project).returncode == 0
    created = platform.cli_json("d1", "migrations", "create", "DB", "create notes", project=project)
    (project / "migrations" / "0001_create_notes.sql").write_text(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"
    )
    assert created["file"].endswith("migrations/0001_create_notes.sql")
    listed = platform.cli_json("d1", "migrations", "list", "DB", project=project)
    assert listed == [{"name": "0001_create_notes.sql", "applied_at": None}]
    applied = platform.cli_json("d1", "migrations", "apply", "DB", project=project)
    assert applied == {"applied": ["0001_create_notes.sql"]}
    assert platform.cli_json("d1", "migrations", "apply", "DB", project=project) == {"applied": []}
    assert platform.cli_json("d1", "migrations", "list", "DB", project=project)[0]["applied_at"]

    assert platform.cli("deploy", "v1", "--app", "probe").returncode == 0
    assert platform.gateway.post("/notes", content=b"from the worker", headers={"host": "localhost"}).json() == {
        "id": 1
    }
    out = platform.cli_json("d1", "execute", "DB", "--command",
                            "INSERT INTO notes (body) VALUES ('from the cli'); SELECT body FROM notes ORDER BY id",
                            project=project)  # fmt: skip
    assert out[0]["meta"]["changes"] == 1
    assert out[1]["results"] == [{"body": "from the worker"}, {"body": "from the cli"}]
    for _ in range(3):  # every worker process sees the CLI's write
        assert len(platform.get("/notes").json()["notes"]) == 2
    table = platform.cli("d1", "execute", "DB", "--command", "SELECT * FROM notes", project=project)
    assert "from the cli" in table.stdout and "2 rows" in table.stdout


def test_failed_migration_and_sql_errors_are_clear(platform: RunningPlatform) -> None:
    project = platform.root / "probe"
    (project / "migrations" / "0002_broken.sql").write_text("CREATE TABLE tags (x);\nINSERT INTO nowhere VALUES (1);")
    result = platform.cli("d1", "migrations", "apply", "DB", project=project)
    assert result.returncode == 1 and "[D1_MIGRATION_FAILED]" in result.stderr and "0002_broken.sql" in result.stderr
    tables = platform.cli_json("d1", "execute", "DB", "--command", "SELECT name FROM sqlite_master WHERE name='tags'",
                               project=project)  # fmt: skip
    assert tables[0]["results"] == []  # rolled back
    bad = platform.cli("d1", "execute", "DB", "--command", "SELEC 1", project=project)
    assert bad.returncode == 1 and "[SQL_ERROR]" in bad.stderr and "syntax error" in bad.stderr
    script = "INSERT INTO notes (body) VALUES ('lost'); INSERT INTO nowhere VALUES (1)"
    atomic = platform.cli("d1", "execute", "DB", "--command", script, project=project)
    assert atomic.returncode == 1
    count = platform.cli_json("d1", "execute", "DB", "--command", "SELECT count(*) AS n FROM notes", project=project)
    assert count[0]["results"] == [{"n": 2}]
    missing = platform.cli("d1", "execute", "NOPE", "--command", "SELECT 1", project=project)
    assert missing.returncode == 1 and "[D1_BINDING_NOT_FOUND]" in missing.stderr
