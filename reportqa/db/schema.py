"""Connecting to PostgreSQL and migrating its schema.

The schema is the numbered SQL files in `migrations/` (NNNN_name.sql), applied in order, each in
its own transaction together with its row in `schema_migrations`; `migrate` applies the ones a
database lacks and is safe to run again, or from several processes at once (an advisory lock
serialises them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from reportqa.models import ReportQAError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
MIGRATION_LOCK = 0x72716D67  # pg_advisory_xact_lock key of migrations ("rqmg")


class DatabaseError(ReportQAError):
    """The database cannot be reached or used; the message says what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(folder: Path = MIGRATIONS) -> list[Migration]:
    """The migrations in `folder`, by version."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        m = _NAME.match(path.name)
        if m is None:
            raise DatabaseError(f"migration file name not NNNN_name.sql: {path.name}")
        found.append(Migration(int(m.group(1)), path.stem, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise DatabaseError("two migrations share a version number")
    return found


def connect(url: str) -> psycopg.Connection:
    """A connection to DATABASE_URL (DatabaseError with a clear message when it fails), in
    autocommit mode: every `conn.transaction()` block is a transaction of its own, committed
    when the block ends (never a savepoint inside one left open)."""
    try:
        return psycopg.connect(url, connect_timeout=10, autocommit=True)
    except psycopg.Error as e:
        raise DatabaseError(f"无法连接数据库（DATABASE_URL）：{_first_line(e)}") from e


def migrate(conn: psycopg.Connection, folder: Path = MIGRATIONS) -> list[int]:
    """Apply the migrations the database lacks; the versions applied now (empty when none)."""
    applied = []
    for migration in migrations(folder):
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
            ).fetchone()
            if done:
                continue
            conn.execute(migration.sql.encode("utf-8"))
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration.version)
    return applied


def version(conn: psycopg.Connection) -> int:
    """The newest migration applied (0 for a database never migrated)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if not exists or exists[0] is None:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def require_current(conn: psycopg.Connection) -> None:
    """DatabaseError unless every migration is applied (`bot.py db init` applies them)."""
    newest = max((m.version for m in migrations()), default=0)
    if version(conn) < newest:
        raise DatabaseError("数据库结构不是最新的：请先运行 python bot.py db init")


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
