"""The knowledge base in PostgreSQL as a store of changes, with the folder Repository's methods
(read, snapshot, facts, change, undo, entries, audit_page), so `kb.changes` works on either.

A change runs in one transaction that first takes an advisory lock: changes from every worker
and every command line are serialised, each sees the one before it, none is lost. The change is
checked as the knowledge base would be after it (nothing stored on a problem), keeps the bytes
it replaces (for undo), updates the parsed tables of what it touched, and is announced with
NOTIFY. A process killed in the middle leaves the transaction uncommitted: the old version.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from reportqa.db import kb as db_kb
from reportqa.db.schema import DatabaseError, require_current
from reportqa.kb import layout, validate
from reportqa.kb.repository import (
    Change,
    ChangeRejected,
    Writes,
    audit_record,
    facts_of,
    newest_page,
    undoable,
)
from reportqa.models import Fact, KnowledgeBase

LOOK_TIMEOUT = 2.0  # seconds a look for changes waits for a connection (the database is down)


class PgRepository:
    """The knowledge base held in PostgreSQL; `folder` is this machine's folder for the index
    cache and for messages (the knowledge itself is never read from it). Safe to share between
    threads: each call takes a connection of its own from a small pool (a change keeps one for
    its whole transaction, and `compute` reads through it)."""

    def __init__(self, url: str, folder: Path, max_connections: int = 8) -> None:
        self.folder = folder
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={"autocommit": True, "connect_timeout": 10},
            open=False,
            # after a restart of the server: a connection is checked before it is handed out,
            # and a lost one is sought again for a few seconds at a time, not with a backoff
            # that grows for minutes (the next request starts a new search)
            check=ConnectionPool.check_connection,
            reconnect_timeout=5.0,
        )
        try:
            self.pool.open(wait=True, timeout=15)
        except psycopg.Error as e:
            self.pool.close()
            raise DatabaseError(f"无法连接数据库（DATABASE_URL）：{e}") from e
        self._pinned = threading.local()  # the connection of a change under way, per thread
        with self.connection() as conn:
            require_current(conn)

    @contextmanager
    def connection(self, timeout: float = 30.0) -> Iterator[psycopg.Connection]:
        """The connection of the change under way in this thread, or one from the pool
        (waiting at most `timeout` seconds for one)."""
        pinned = getattr(self._pinned, "conn", None)
        if pinned is not None:
            yield pinned
            return
        with self.pool.connection(timeout=timeout) as conn:
            yield conn

    def close(self) -> None:
        self.pool.close()

    def version(self) -> int:
        """The newest change's number (0: none): cheap, to notice a change. DatabaseError
        when the database is out of reach."""
        try:
            with self.connection(timeout=LOOK_TIMEOUT) as conn:
                row = conn.execute("SELECT coalesce(max(seq), 0) FROM kb_changes").fetchone()
        except psycopg.Error as e:
            raise DatabaseError(f"数据库暂时无法访问：{e}") from e
        return int(row[0]) if row else 0

    def versioned_snapshot(self) -> tuple[int, dict[str, bytes]]:
        """The knowledge files and the number of the change that made them, read together
        (DatabaseError when the database is out of reach)."""
        try:
            with self.connection(timeout=LOOK_TIMEOUT) as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                row = conn.execute("SELECT coalesce(max(seq), 0) FROM kb_changes").fetchone()
                files = db_kb.stored_files(conn, knowledge_only=True)
        except psycopg.Error as e:
            raise DatabaseError(f"数据库暂时无法访问：{e}") from e
        return (int(row[0]) if row else 0), files

    @contextmanager
    def locked(self) -> Iterator[None]:
        """A consistent read needs no lock here: every read is one statement."""
        yield

    def recover(self) -> list[str]:
        return []  # a killed change left an uncommitted transaction: nothing to recover

    # ------------------------------------------------------------------ reading

    def read(self, rel: str) -> bytes | None:
        with self.connection() as conn:
            row = conn.execute("SELECT data FROM kb_files WHERE rel = %s", (rel,)).fetchone()
        return bytes(row[0]) if row else None

    def snapshot(self, manifest: bool = False) -> dict[str, bytes]:
        """The knowledge files of the last committed version."""
        with self.connection() as conn:
            files = db_kb.stored_files(conn, knowledge_only=True)
        return {rel: data for rel, data in files.items() if layout.is_knowledge_file(rel, manifest)}

    def facts(self) -> list[Fact]:
        return facts_of(self.read("facts.yaml"))

    def source_owners(self) -> dict[str, str]:
        """raw file name -> the report whose raw file it is."""
        with self.connection() as conn:
            rows = conn.execute("SELECT source_file, report_id FROM kb_reports").fetchall()
        return {source: report_id for source, report_id in rows if source}

    def entries(self) -> list[Change]:
        """History entries, oldest first."""
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT seq, extract(epoch FROM at), actor, action, target, files, status,"
                " undoes FROM kb_changes ORDER BY seq"
            ).fetchall()
        return [
            Change(int(seq), float(at), actor, action, target, files, status, undoes)
            for seq, at, actor, action, target, files, status, undoes in rows
        ]

    def audit(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.audit_page(1, limit)[0]

    def audit_page(self, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        """Page `page` (1 = the newest) of the changes as audit records, newest last, and how
        many there are in all."""
        entries = self.entries()
        shown = newest_page(entries, page, per_page)
        return [audit_record(e, e.status) for e in shown], len(entries)

    # ------------------------------------------------------------------ changing

    def change(
        self, actor: str, action: str, target: str, compute: Callable[[PgRepository], Writes]
    ) -> Change:
        """Apply the writes `compute` returns (it runs inside the transaction, after the lock:
        it sees the latest version); ChangeRejected if the result would not load."""
        with self._transaction():
            writes = compute(self)
            if not writes:
                raise ChangeRejected("没有需要保存的改动")
            return self._apply(actor, action, target, writes)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        """A transaction holding the change lock, its connection pinned to this thread."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (db_kb.CHANGE_LOCK,))
            self._pinned.conn = conn
            try:
                yield conn
            finally:
                self._pinned.conn = None

    def validate_with(self, writes: Writes) -> KnowledgeBase:
        """The knowledge base as it would be after `writes`; ChangeRejected if it has problems."""
        files: dict[str, bytes | None] = dict(self.snapshot(manifest=True))
        files.update(
            {rel: data for rel, data in writes.items() if layout.is_knowledge_file(rel, True)}
        )
        kb, problems = validate.check(self.folder, overlay=files, exact=True)
        if kb is None:
            shown = "\n".join(str(p) for p in problems[:10])
            raise ChangeRejected(f"改动未保存，因为会使知识库出错：\n{shown}")
        return kb

    def undo(self, actor: str) -> Change:
        """Restore the files of the latest change not yet undone."""
        with self._transaction() as conn:
            last = undoable(self.entries())
            kept = dict(
                conn.execute(
                    "SELECT rel, data FROM kb_file_versions WHERE seq = %s", (last.seq,)
                ).fetchall()
            )
            writes: Writes = {
                rel: None if hashes["before"] is None else bytes(kept[rel])
                for rel, hashes in last.files.items()
            }
            target = f"#{last.seq} {last.action} {last.target}"
            change = self._apply(actor, "undo", target, writes, undoes=last.seq)
            conn.execute("UPDATE kb_changes SET status = 'undone' WHERE seq = %s", (last.seq,))
            return change

    def _apply(
        self, actor: str, action: str, target: str, writes: Writes, undoes: int | None = None
    ) -> Change:
        kb = self.validate_with(writes)
        conn = self._pinned.conn  # inside _transaction
        seq, at, files = db_kb.apply_writes(conn, actor, action, target, writes, kb, undoes)
        return Change(seq, at, actor, action, target, files, "done", undoes)
