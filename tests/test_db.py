"""reportqa/db against a real PostgreSQL server: migrations, a knowledge folder imported as one
change and exported back byte for byte, bad input refused with nothing stored, and the CLI."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest
from conftest import KNOWLEDGE, RunCli, copy_knowledge

from reportqa.db import kb as db_kb
from reportqa.db.schema import DatabaseError, connect, migrate, migrations, version
from reportqa.kb import validate
from reportqa.kb.schema import KnowledgeError


@pytest.fixture
def conn(db_url: str):  # type: ignore[no-untyped-def]
    with connect(db_url) as c:
        migrate(c)
        yield c


def count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_migrations_apply_once_and_again_do_nothing(db_url: str) -> None:
    newest = max(m.version for m in migrations())
    with connect(db_url) as c:
        assert version(c) == 0
        assert migrate(c) == [m.version for m in migrations()]
        assert migrate(c) == []
        assert version(c) == newest


def test_migrations_from_two_processes_at_once(db_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with connect(db_url) as c:
                migrate(c)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with connect(db_url) as c:
        assert count(c, "schema_migrations") == len(migrations())


def test_a_knowledge_folder_round_trips_byte_for_byte(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    result = db_kb.import_folder(conn, KNOWLEDGE, "test")
    kb = validate.load(KNOWLEDGE)
    assert result.seq == 1 and result.reports == len(kb.reports) == 5
    assert result.passages == kb.passage_count == count(conn, "kb_passages")
    assert count(conn, "kb_reports") == 5 and count(conn, "kb_facts") == len(kb.facts)
    out = tmp_path / "exported"
    assert db_kb.export_folder(conn, out) == len(db_kb.folder_files(KNOWLEDGE))
    assert db_kb.folder_files(out) == db_kb.folder_files(KNOWLEDGE)
    assert validate.load(out).passage_count == kb.passage_count


def test_importing_the_same_content_again_records_no_change(conn: psycopg.Connection) -> None:
    assert db_kb.import_folder(conn, KNOWLEDGE, "test").seq == 1
    assert db_kb.import_folder(conn, KNOWLEDGE, "test").seq is None
    assert count(conn, "kb_changes") == 1


def test_a_second_import_keeps_what_it_replaces(conn: psycopg.Connection, tmp_path: Path) -> None:
    db_kb.import_folder(conn, KNOWLEDGE, "test")
    folder = copy_knowledge(tmp_path / "knowledge")
    gone = sorted((folder / "reports").glob("*.yaml"))[0]
    old = gone.read_bytes()
    gone.unlink()
    source = folder / "sources" / gone.with_suffix(".txt").name
    source.unlink(missing_ok=True)
    result = db_kb.import_folder(conn, folder, "admin")
    assert result.seq == 2 and result.reports == 4
    row = conn.execute("SELECT actor, action, files FROM kb_changes WHERE seq = 2").fetchone()
    assert row is not None and row[0] == "admin" and row[1] == "import"
    rel = f"reports/{gone.name}"
    assert row[2][rel]["after"] is None and row[2][rel]["before"] is not None
    kept = conn.execute(
        "SELECT data FROM kb_file_versions WHERE seq = 2 AND rel = %s", (rel,)
    ).fetchone()
    assert kept is not None and bytes(kept[0]) == old
    assert count(conn, "kb_reports") == 4


def test_a_broken_folder_is_refused_and_nothing_is_stored(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    db_kb.import_folder(conn, KNOWLEDGE, "test")
    folder = copy_knowledge(tmp_path / "knowledge")
    report = sorted((folder / "reports").glob("*.yaml"))[1]
    report.write_text("report_id: [unclosed\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as e:
        db_kb.import_folder(conn, folder, "test")
    assert report.name in str(e.value)
    assert count(conn, "kb_changes") == 1
    assert db_kb.stored_files(conn) == db_kb.folder_files(KNOWLEDGE)


def test_export_never_writes_into_a_folder_that_holds_files(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    db_kb.import_folder(conn, KNOWLEDGE, "test")
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(DatabaseError):
        db_kb.export_folder(conn, target)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_a_change_is_announced_to_listeners(conn: psycopg.Connection, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {db_kb.CHANNEL}")
        db_kb.import_folder(conn, KNOWLEDGE, "test")
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert [(n.channel, n.payload) for n in notes] == [(db_kb.CHANNEL, "1")]


def test_an_unmigrated_database_is_refused_with_the_command_to_run(db_url: str) -> None:
    with connect(db_url) as c, pytest.raises(DatabaseError, match="db init"):
        db_kb.import_folder(c, KNOWLEDGE, "test")


def test_a_database_that_cannot_be_reached_gives_one_clear_message(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="无法连接数据库"):
        connect(f"postgresql://postgres@/postgres?host={tmp_path}&port=1")


def test_the_command_line(run_cli: RunCli, db_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": db_url}
    for _ in range(2):  # init is safe to run again
        done = run_cli("db", "init", env=env)
        assert done.returncode == 0, done.stderr
    done = run_cli("db", "import", str(KNOWLEDGE), env=env)
    assert done.returncode == 0 and "5 份报告" in done.stderr, done.stderr
    out = tmp_path / "out"
    done = run_cli("db", "export", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert db_kb.folder_files(out) == db_kb.folder_files(KNOWLEDGE)
    shutil.rmtree(out)
    missing = run_cli("db", "init", env={"DATABASE_URL": ""})
    assert missing.returncode == 2 and "DATABASE_URL" in missing.stderr
