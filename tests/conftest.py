"""Shared fixtures: the repository root, copies of the bundled knowledge folder, one engine
for the whole session, and a helper that runs the real command line in a subprocess.

Nothing here writes into the repository: every knowledge folder a test (or the engine's index
cache) touches is a copy in a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT_DIR = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT_DIR / "knowledge"
_IGNORE = shutil.ignore_patterns(".cache")

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def copy_knowledge(dest: Path) -> Path:
    """A copy of the bundled knowledge folder (reports, sources, facts) without its cache."""
    shutil.copytree(KNOWLEDGE, dest, ignore=_IGNORE)
    return dest


def snapshot(folder: Path, history: bool = False) -> dict[str, bytes]:
    """relative path -> bytes of every file in a knowledge folder, ignoring the index cache
    and the lock file, and (unless `history`) the change history and audit log."""
    skip = {".cache"} if history else {".cache", ".history"}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not skip & set(p.relative_to(folder).parts) and p.name != ".lock"
    }


@pytest.fixture(scope="session")
def ROOT() -> Path:  # the name the brief gives the repository-root fixture
    """The repository root."""
    return ROOT_DIR


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A private, writable copy of knowledge/ for one test."""
    return copy_knowledge(tmp_path / "knowledge")


@pytest.fixture(scope="session")
def shared_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of knowledge/ for tests that only read it (its index cache is reused)."""
    return copy_knowledge(tmp_path_factory.mktemp("shared") / "knowledge")


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The engine over the bundled five reports, built once per session from a copy."""
    from reportqa.kb.open import open_engine

    folder = copy_knowledge(tmp_path_factory.mktemp("engine") / "knowledge")
    return open_engine(folder, use_cache=True)


def _run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "bot.py", *args],
        cwd=ROOT_DIR,
        input=stdin,
        env=full_env,
        text=True,
        encoding="utf-8",
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="session")
def run_cli() -> RunCli:
    """run_cli(*args, stdin=None, env=None) -> CompletedProcess of `python bot.py *args`."""
    return _run_cli


@pytest.fixture(scope="session")
def pg_server():  # type: ignore[no-untyped-def]
    """A throwaway PostgreSQL server for the session. Without one the PostgreSQL tests skip,
    saying why, except in CI (CI=true), which must start one: there they fail."""
    from tests.pgserver import PgServer, ServerUnavailable

    try:
        server = PgServer().start()
    except ServerUnavailable as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must start PostgreSQL: {e}")
        pytest.skip(f"no PostgreSQL server can be started here: {e}")
    yield server
    server.stop()


@pytest.fixture
def db_url(pg_server, request: pytest.FixtureRequest) -> str:  # type: ignore[no-untyped-def]
    """A new, empty database on the session's server, for one test."""
    import hashlib
    import re

    import psycopg

    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    name = f"t_{slug}_{hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]}"  # unique
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_server.url.replace("@/postgres?", f"@/{name}?")


@pytest.fixture
def pg_loaded(db_url: str) -> str:
    """A migrated database (on the session's server) holding the bundled knowledge base."""
    from reportqa.db import kb as db_kb
    from reportqa.db.schema import connect, migrate

    with connect(db_url) as conn:
        migrate(conn)
        db_kb.import_folder(conn, KNOWLEDGE, "test")
    return db_url


@pytest.fixture
def pools(db_url: str):  # type: ignore[no-untyped-def]
    """Two workers' connection pools on one migrated database."""
    from psycopg_pool import ConnectionPool

    from reportqa.db.schema import connect, migrate

    with connect(db_url) as conn:
        migrate(conn)
    opened = [
        ConnectionPool(db_url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=True)
        for _ in range(2)
    ]
    yield opened
    for pool in opened:
        pool.close()


@pytest.fixture
def down(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A pool whose database is out of reach (no server on that socket)."""
    from psycopg_pool import ConnectionPool

    url = f"postgresql://postgres@/postgres?host={tmp_path}&port=1"
    pool = ConnectionPool(url, min_size=0, max_size=1, open=True)
    yield pool
    pool.close()
