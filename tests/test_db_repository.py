"""reportqa/db/repository.py against a real PostgreSQL server: the command line's changes with
DATABASE_URL (ingest, ask, remove, facts, history, undo, reports, validate), changes from many
connections at once losing nothing, and a bad change refused with nothing stored."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from conftest import KNOWLEDGE, ROOT_DIR, RunCli

from reportqa.db import kb as db_kb
from reportqa.db.repository import PgRepository
from reportqa.db.schema import connect
from reportqa.kb import changes
from reportqa.kb.repository import ChangeRejected

CORPUS = ROOT_DIR / "tests" / "data" / "corpus"


def repo(url: str, folder: Path) -> PgRepository:
    return PgRepository(url, folder)


def test_the_command_line_works_the_same_with_a_database(
    run_cli: RunCli, pg_loaded: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": pg_loaded, "KNOWLEDGE_DIR": str(tmp_path / "cache")}
    (tmp_path / "cache").mkdir()
    done = run_cli("ingest", str(CORPUS / "dev_030.txt"), env=env)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "cache" / "reports").exists()  # kept in the database, not here
    asked = run_cli("ask", "坪山区2023年地区生产总值是多少", env=env)
    assert asked.returncode == 0 and "坪山" in asked.stdout, asked.stderr
    listed = run_cli("reports", "--json", env=env)
    assert listed.returncode == 0 and "dev_030" in listed.stdout
    report_id = next(
        line.split("\t")[0]
        for line in run_cli("reports", env=env).stdout.splitlines()
        if "dev_030" in line
    )
    added = run_cli(
        "facts",
        "add",
        "--question",
        "坪山GDP多少",
        "--answer",
        "见报告",
        "--report",
        report_id,
        env=env,
    )
    assert added.returncode == 0, added.stderr
    facts = run_cli("facts", "list", env=env)
    assert "坪山GDP多少" in facts.stdout
    removed = run_cli("remove", report_id, env=env)  # its fact goes with it
    assert removed.returncode == 0, removed.stderr
    assert "坪山GDP多少" not in run_cli("facts", "list", env=env).stdout
    history = run_cli("history", env=env)
    actions = [line.split("\t")[3] for line in history.stdout.splitlines()]
    assert actions == ["import", "add-report", "add-fact", "remove-report"]
    undone = run_cli("undo", env=env)
    assert undone.returncode == 0, undone.stderr
    assert "dev_030" in run_cli("reports", env=env).stdout  # back, with its fact
    assert "坪山GDP多少" in run_cli("facts", "list", env=env).stdout
    checked = run_cli("validate", env=env)
    assert checked.returncode == 0 and "ok: 6 reports" in checked.stdout, checked.stdout


def test_fifty_changes_from_many_connections_at_once_lose_nothing(
    pg_loaded: str, tmp_path: Path
) -> None:
    report_id = sorted(p.stem for p in (KNOWLEDGE / "reports").glob("*.yaml"))[0]
    errors: list[BaseException] = []

    def add(n: int) -> None:
        try:
            r = repo(pg_loaded, tmp_path)
            for i in range(10):
                changes.add_fact(r, f"问题{n}-{i}", "答案", report_id, f"admin{n}")
            r.close()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    r = repo(pg_loaded, tmp_path)
    facts = r.facts()
    assert len({f.id for f in facts}) == len(facts) == 50
    assert {f.question for f in facts} == {f"问题{n}-{i}" for n in range(5) for i in range(10)}
    assert len(r.entries()) == 51  # the import and fifty changes
    with r.connection() as conn:
        row = conn.execute("SELECT count(*) FROM kb_facts").fetchone()
    assert row is not None and row[0] == 50


def test_a_change_that_would_break_the_knowledge_base_stores_nothing(
    pg_loaded: str, tmp_path: Path
) -> None:
    r = repo(pg_loaded, tmp_path)
    before = stored(pg_loaded)
    with pytest.raises(ChangeRejected):
        changes.add_fact(r, "问题", "答案", "no-such-report", "admin")
    with pytest.raises(ChangeRejected):
        r.change("admin", "edit", "x", lambda _: {"reports/bad.yaml": b"report_id: [\n"})
    assert stored(pg_loaded) == before
    assert len(r.entries()) == 1


def test_a_killed_change_leaves_the_old_version(pg_loaded: str, tmp_path: Path) -> None:
    r = repo(pg_loaded, tmp_path)
    before = stored(pg_loaded)

    def dies(store: PgRepository) -> dict[str, bytes | None]:
        with store.connection() as conn:  # the change's own connection, killed mid-change
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return {"facts.yaml": b"facts: []\n"}

    with pytest.raises(psycopg.OperationalError):
        r.change("admin", "edit", "x", dies)
    assert stored(pg_loaded) == before
    changes.add_fact(
        r,
        "问题",
        "答案",
        sorted(p.stem for p in (KNOWLEDGE / "reports").glob("*.yaml"))[0],
        "admin",
    )
    assert len(r.entries()) == 2  # the pool replaced the dead connection


def stored(url: str) -> dict[str, bytes]:
    with connect(url) as conn:
        return db_kb.stored_files(conn)
