"""The D1 (SQL) conformance suite: runs unchanged against every SQL backend."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from edgeplane.bindings.errors import BindingError
from edgeplane.bindings.sql import BACKENDS, D1Database, open_database
from edgeplane.bindings.sql.migrations import applied, apply, create, local_migrations

Factory = Callable[[], D1Database]


@pytest.fixture(params=sorted(BACKENDS))
async def db_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    database_id = f"db-{uuid.uuid4().hex[:12]}"
    opened: list[D1Database] = []

    def make() -> D1Database:
        db = open_database(request.param, database_id, tmp_path)
        opened.append(db)
        return db

    yield make
    for db in opened:
        await db.close()


@pytest.fixture
async def db(db_factory: Factory) -> D1Database:
    database = db_factory()
    await database.exec(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, avatar BLOB, "
        "active INTEGER);"
    )
    return database


async def expect_error(code: str, call: object) -> BindingError:
    with pytest.raises(BindingError) as info:
        await call  # type: ignore[misc]
    assert info.value.code == code
    return info.value


async def test_prepare_bind_all_first_run_raw(db: D1Database) -> None:
    insert = db.prepare("INSERT INTO users (name, score, avatar, active) VALUES (?, ?, ?, ?)")
    r = await insert.bind("ana", 9.5, b"\x89PNG", True).run()
    assert r.success and r.meta["changes"] == 1 and r.meta["last_row_id"] == 1 and r.meta["rows_written"] == 1
    assert r.meta["changed_db"] is True
    await insert.bind("bo", None, None, False).run()  # a prepared statement is reusable with new params
    rows = await db.prepare("SELECT name, score, avatar, active FROM users ORDER BY id").all()
    assert rows.results == [
        {"name": "ana", "score": 9.5, "avatar": b"\x89PNG", "active": 1},
        {"name": "bo", "score": None, "avatar": None, "active": 0},
    ]
    assert rows.meta["rows_read"] == 2 and rows.meta["duration"] >= 0
    assert await db.prepare("SELECT * FROM users WHERE name = ?1").bind("bo").first("id") == 2
    assert (await db.prepare("SELECT name FROM users WHERE id = ?").bind(1).first()) == {"name": "ana"}
    assert await db.prepare("SELECT * FROM users WHERE id = 99").first() is None
    assert await db.prepare("SELECT id, name FROM users ORDER BY id").raw() == [[1, "ana"], [2, "bo"]]
    assert await db.prepare("SELECT id, name FROM users ORDER BY id").raw(column_names=True) == [
        ["id", "name"], [1, "ana"], [2, "bo"],
    ]  # fmt: skip
    await expect_error("D1_COLUMN_NOTFOUND", db.prepare("SELECT id FROM users").first("nope"))
    with pytest.raises(BindingError) as info:
        db.prepare("SELECT ?").bind({"a": 1})
    assert info.value.code == "D1_TYPE_ERROR"


async def test_sql_errors_have_a_code_and_write_nothing(db: D1Database) -> None:
    error = await expect_error("SQL_ERROR", db.prepare("SELEC nonsense").all())
    assert "syntax error" in error.message
    await expect_error("SQL_ERROR", db.prepare("SELECT * FROM missing").all())
    await expect_error("SQL_ERROR", db.prepare("SELECT ?").bind(1, 2).all())
    await db.prepare("INSERT INTO users (name) VALUES ('ana')").run()
    await expect_error("SQL_ERROR", db.prepare("INSERT INTO users (name) VALUES ('ana')").run())  # UNIQUE
    assert await db.prepare("SELECT count(*) AS n FROM users").first("n") == 1


async def test_batch_is_all_or_nothing(db: D1Database) -> None:
    add = db.prepare("INSERT INTO users (name) VALUES (?)")
    results = await db.batch([add.bind("a"), add.bind("b"), db.prepare("SELECT count(*) AS n FROM users")])
    assert [r.meta["changes"] for r in results[:2]] == [1, 1] and results[2].results == [{"n": 2}]
    await expect_error("SQL_ERROR", db.batch([add.bind("c"), add.bind("a"), add.bind("d")]))  # 'a' is taken
    names = await db.prepare("SELECT name FROM users ORDER BY name").raw()
    assert names == [["a"], ["b"]]  # neither 'c' nor 'd' was written
    assert await db.batch([]) == []


async def test_exec_runs_scripts_atomically(db: D1Database) -> None:
    out = await db.exec("INSERT INTO users (name) VALUES ('x;y'); INSERT INTO users (name) VALUES ('z');\n-- done")
    assert out["count"] == 2
    await expect_error("SQL_ERROR", db.exec("INSERT INTO users (name) VALUES ('w'); INSERT INTO nope VALUES (1);"))
    assert await db.prepare("SELECT count(*) AS n FROM users").first("n") == 2


async def test_fts5_is_available(db: D1Database) -> None:
    await db.exec("CREATE VIRTUAL TABLE docs USING fts5(title, body);")
    add = db.prepare("INSERT INTO docs (title, body) VALUES (?, ?)")
    await db.batch([add.bind("Summarize", "condense a long text"), add.bind("Classify", "label the sentiment")])
    hits = await db.prepare("SELECT title FROM docs WHERE docs MATCH ? ORDER BY rank").bind("sentiment").all()
    assert hits.results == [{"title": "Classify"}]


async def test_dump_is_a_sqlite_database(db: D1Database, tmp_path: Path) -> None:
    await db.prepare("INSERT INTO users (name) VALUES ('dumped')").run()
    image = tmp_path / "dump.sqlite3"
    image.write_bytes(await db.dump())
    with sqlite3.connect(image) as conn:
        assert conn.execute("SELECT name FROM users").fetchall() == [("dumped",)]


async def test_writes_are_visible_to_other_handles(db_factory: Factory) -> None:
    a, b = db_factory(), db_factory()
    await a.exec("CREATE TABLE t (x INTEGER);")
    await a.prepare("INSERT INTO t VALUES (1)").run()
    assert await b.prepare("SELECT x FROM t").first("x") == 1


async def test_migrations_apply_in_order_once_and_roll_back_failures(db_factory: Factory, tmp_path: Path) -> None:
    db = db_factory()
    folder = tmp_path / "migrations"
    first = create(folder, "create posts")
    first.write_text("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT);")
    second = create(folder, "add body")
    second.write_text("ALTER TABLE posts ADD COLUMN body TEXT;")
    assert [p.name for p in sorted(folder.iterdir())] == ["0001_create_posts.sql", "0002_add_body.sql"]
    assert await apply(db, local_migrations(folder)) == ["0001_create_posts.sql", "0002_add_body.sql"]
    assert await apply(db, local_migrations(folder)) == []
    assert [r["name"] for r in await applied(db)] == ["0001_create_posts.sql", "0002_add_body.sql"]
    third = create(folder, "broken")
    third.write_text("CREATE TABLE tags (id INTEGER);\nINSERT INTO nowhere VALUES (1);")
    error = await expect_error("D1_MIGRATION_FAILED", apply(db, local_migrations(folder)))
    assert "0003_broken.sql" in error.message
    assert await db.prepare("SELECT name FROM sqlite_master WHERE name = 'tags'").first() is None  # rolled back
    assert len(await applied(db)) == 2
