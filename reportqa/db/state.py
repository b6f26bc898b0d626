"""The bot's state that every worker shares (DATABASE_URL): one question budget per user, the
daily digest sent once whichever worker's job runs first, and the conversations (each chat's
context, the questions behind buttons, the question log and feedback).

Each operation is one short statement or transaction. A database out of reach is reported once
in the log and handled by what matters most: the rate limit lets the question through
(answering matters more than counting), the digest is skipped rather than sent twice, and a
conversation goes on with what this worker saw last (its own view of each chat and of the
questions behind buttons, kept in memory as it writes them). The admins' statistics, which
only the database holds, say it is out of reach (DatabaseError).
"""

from __future__ import annotations

import datetime
import itertools
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from reportqa.conversations import (
    ChatState,
    Recent,
    Record,
    Scope,
    Usage,
    missed_questions,
)
from reportqa.db.schema import DatabaseError
from reportqa.steps import Dialogue, PendingUpload

log = logging.getLogger(__name__)
RETRY = 3.0  # seconds a database found out of reach is not asked again (answers come first)
RATE_LOCK = 0x72717274  # pg_advisory_xact_lock class of per-user rate checks ("rqrt")
KEEP_QUESTIONS = "90 days"  # how long the question behind a button is kept after its last use
T = TypeVar("T")
_MISSING = object()  # what a read gives when the database is out of reach


class Unreachable(psycopg.OperationalError):
    """The database failed a moment ago: not asked again yet."""


class Outage:
    """When a pool's database was last found out of reach: for RETRY seconds after that, calls
    fail at once (a question is not held up waiting for a connection), then one tries again."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def skip(self) -> bool:
        with self._lock:
            return time.monotonic() < self._until

    def failed(self) -> None:
        with self._lock:
            self._until = time.monotonic() + RETRY

    def ok(self) -> None:
        with self._lock:
            self._until = 0.0


_outages: weakref.WeakKeyDictionary[ConnectionPool, Outage] = weakref.WeakKeyDictionary()
_outages_lock = threading.Lock()


@contextmanager
def connection(pool: ConnectionPool, timeout: float) -> Iterator[psycopg.Connection]:
    """A connection of `pool` (waiting at most `timeout` seconds); Unreachable at once while
    the pool's database is known to be out of reach."""
    with _outages_lock:
        outage = _outages.setdefault(pool, Outage())
    if outage.skip():
        raise Unreachable("the database was out of reach a moment ago")
    try:
        with pool.connection(timeout=timeout) as conn:
            yield conn
    except psycopg.OperationalError:  # no connection, or it broke (PoolTimeout included)
        outage.failed()
        raise
    outage.ok()


class PgRateLimiter:
    """At most `limit` questions per user in any `window` seconds, across every worker."""

    def __init__(self, pool: ConnectionPool, limit: int = 20, window: float = 60.0) -> None:
        self.pool, self.limit, self.window = pool, limit, window
        self._warned = False

    def allow(self, user_id: int) -> bool:
        try:
            with connection(self.pool, 1.0) as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (RATE_LOCK, user_id % 2**31))
                conn.execute(
                    "DELETE FROM bot_rate_hits WHERE user_id = %s"
                    " AND at < clock_timestamp() - make_interval(secs => %s)",
                    (user_id, self.window),
                )
                row = conn.execute(
                    "SELECT count(*) FROM bot_rate_hits WHERE user_id = %s", (user_id,)
                ).fetchone()
                if row is not None and row[0] >= self.limit:
                    return False
                conn.execute("INSERT INTO bot_rate_hits (user_id) VALUES (%s)", (user_id,))
        except psycopg.Error as e:  # out of reach: the question goes through
            if not self._warned:
                log.warning("rate limit unavailable (database): %s", e)
            self._warned = True
            return True
        self._warned = False
        return True


def claim_digest(pool: ConnectionPool, day: datetime.date) -> bool:
    """Whether this worker sends `day`'s digest (True for exactly one worker; False, too, when
    the database is out of reach: better none than twice)."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        with connection(pool, 5.0) as conn:
            row = conn.execute(
                "INSERT INTO bot_digests (day, worker) VALUES (%s, %s)"
                " ON CONFLICT (day) DO NOTHING RETURNING day",
                (day, worker),
            ).fetchone()
    except psycopg.Error as e:
        log.warning("digest not sent: the database is out of reach (%s)", e)
        return False
    return row is not None


class PgConversations:
    """Conversations in PostgreSQL (reportqa.conversations.Conversations), for every worker."""

    def __init__(self, pool: ConnectionPool, timeout: float = 1.0) -> None:
        self.pool, self.timeout = pool, timeout
        self._chats: Recent[int, ChatState] = Recent()  # this worker's last view of each chat
        self._questions: Recent[str, tuple[str, Scope]] = Recent()
        self._writes = itertools.count(1)
        self._down = False

    # ------------------------------------------------------------------ chats

    def chat(self, chat_id: int) -> ChatState:
        row = self._run(
            "read a chat",
            lambda c: c.execute(
                "SELECT previous, scope, scope_label FROM bot_chats WHERE chat_id = %s",
                (chat_id,),
            ).fetchone(),
            _MISSING,
        )
        if row is _MISSING:  # out of reach: as this worker saw the chat last
            return self._chats.get(chat_id) or ChatState()
        if row is None:
            return ChatState()
        previous, scope, label = row  # type: ignore[misc]
        return ChatState(previous, frozenset(scope) if scope else None, label)

    def save_chat(self, chat_id: int, state: ChatState) -> None:
        self._chats.put(chat_id, state)
        scope = sorted(state.scope) if state.scope else None
        self._run(
            "save a chat",
            lambda c: c.execute(
                "INSERT INTO bot_chats (chat_id, previous, scope, scope_label)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (chat_id) DO UPDATE SET"
                " previous = EXCLUDED.previous, scope = EXCLUDED.scope,"
                " scope_label = EXCLUDED.scope_label, updated = now()",
                (chat_id, state.previous, scope, state.scope_label),
            ),
            None,
        )

    # ------------------------------------------------------------------ questions behind buttons

    def remember(self, qid: str, question: str, scope: Scope) -> None:
        self._questions.put(qid, (question, scope))
        prune = next(self._writes) % 1000 == 0  # now and then, the long unused ones go

        def write(c: psycopg.Connection) -> None:
            c.execute(
                "INSERT INTO bot_questions (qid, question, scope) VALUES (%s, %s, %s)"
                " ON CONFLICT (qid) DO UPDATE SET seen = now()",
                (qid, question, sorted(scope) if scope else None),
            )
            if prune:
                c.execute(
                    "DELETE FROM bot_questions WHERE seen < now() - %s::interval",
                    (KEEP_QUESTIONS,),
                )

        self._run("remember a question", write, None)

    def recall(self, qid: str) -> tuple[str, Scope] | None:
        found = self._questions.get(qid)
        if found is not None:
            return found
        row = self._run(
            "recall a question",
            lambda c: c.execute(
                "SELECT question, scope FROM bot_questions WHERE qid = %s", (qid,)
            ).fetchone(),
            None,
        )
        if row is None:
            return None
        found = (row[0], frozenset(row[1]) if row[1] else None)
        self._questions.put(qid, found)
        return found

    # ------------------------------------------------------------------ logs

    def log_question(self, record: Record) -> None:
        self._log("bot_question_log", record)

    def log_feedback(self, record: Record) -> None:
        self._log("bot_feedback", record)

    def usage(self, since: float) -> Usage:
        row = self._read(
            "SELECT count(*), count(*) FILTER (WHERE (record->>'answered')::boolean)"
            " FROM bot_question_log WHERE t >= %s",
            (since,),
        )
        return Usage(int(row[0][0]), int(row[0][1]))

    def unanswered(self, limit: int = 10) -> tuple[list[str], list[tuple[str, int]]]:
        rows = self._read(
            "SELECT record->>'question' FROM bot_question_log"
            " WHERE NOT (record->>'answered')::boolean ORDER BY id",
            (),
        )
        return missed_questions([str(r[0] or "") for r in rows], limit)

    def negative_feedback(self, limit: int = 10) -> list[Record]:
        rows = self._read(
            "SELECT record FROM bot_feedback WHERE record->>'vote' = 'down'"
            " ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        return [dict(r[0]) for r in rows]

    # ------------------------------------------------------------------ the database

    def _log(self, table: str, record: Record) -> None:
        t = float(record.get("t", 0.0))  # type: ignore[arg-type]
        self._run(
            f"log to {table}",
            lambda c: c.execute(
                sql.SQL("INSERT INTO {} (t, record) VALUES (%s, %s)").format(sql.Identifier(table)),
                (t, Jsonb(record)),
            ),
            None,
        )

    def _read(self, query: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
        """Rows only the database holds (the admins' statistics): DatabaseError when it is out
        of reach."""
        try:
            with connection(self.pool, self.timeout) as conn:
                return list(conn.execute(query.encode(), args).fetchall())
        except psycopg.Error as e:
            raise DatabaseError(f"数据库暂时无法连接，统计无法读取：{e}") from e

    def _run(self, what: str, op: Callable[[psycopg.Connection], T], default: T) -> T:
        """`op` on a pooled connection; `default` (and one warning until it is back) when the
        database is out of reach."""
        try:
            with connection(self.pool, self.timeout) as conn:
                out = op(conn)
        except psycopg.Error as e:
            if not self._down:
                log.warning("conversations: database out of reach (%s): %s", what, e)
            self._down = True
            return default
        if self._down:
            log.warning("conversations: database reachable again")
        self._down = False
        return out


class PgSteps:
    """Admin work under way in PostgreSQL (reportqa.steps.Steps), for every worker. A database
    out of reach makes an admin's upload or dialogue step fail with DatabaseError (the admin
    is told); the check for an open dialogue, made on every admin text, says "none" instead,
    so the admin's questions are still answered."""

    def __init__(self, pool: ConnectionPool, timeout: float = 1.0) -> None:
        self.pool, self.timeout = pool, timeout

    def put_upload(self, token: str, upload: PendingUpload) -> None:
        self._write(
            "INSERT INTO bot_pending (token, upload, data, created) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (token) DO UPDATE SET upload = EXCLUDED.upload,"
            " data = EXCLUDED.data, created = EXCLUDED.created",
            (token, Jsonb(upload.to_json()), upload.data, upload.created),
        )

    def upload(self, token: str) -> PendingUpload | None:
        return self._upload("SELECT upload, data, created FROM bot_pending WHERE token = %s", token)

    def take_upload(self, token: str) -> PendingUpload | None:
        return self._upload(
            "DELETE FROM bot_pending WHERE token = %s RETURNING upload, data, created", token
        )

    def expire_uploads(self, ttl: float) -> None:
        self._write("DELETE FROM bot_pending WHERE created < %s", (time.time() - ttl,))

    def dialogue(self, chat_id: int, user_id: int) -> Dialogue | None:
        try:
            with connection(self.pool, self.timeout) as conn:
                row = conn.execute(
                    "SELECT state FROM bot_dialogues WHERE chat_id = %s AND user_id = %s",
                    (chat_id, user_id),
                ).fetchone()
        except psycopg.Error as e:
            log.warning("admin dialogues: database out of reach: %s", e)
            return None
        return dict(row[0]) if row else None

    def set_dialogue(self, chat_id: int, user_id: int, state: Dialogue | None) -> None:
        if state is None:
            self._write(
                "DELETE FROM bot_dialogues WHERE chat_id = %s AND user_id = %s", (chat_id, user_id)
            )
            return
        self._write(
            "INSERT INTO bot_dialogues (chat_id, user_id, state) VALUES (%s, %s, %s)"
            " ON CONFLICT (chat_id, user_id) DO UPDATE SET state = EXCLUDED.state, updated = now()",
            (chat_id, user_id, Jsonb(state)),
        )

    def _upload(self, query: str, token: str) -> PendingUpload | None:
        try:
            with connection(self.pool, self.timeout) as conn:
                row = conn.execute(query.encode(), (token,)).fetchone()
        except psycopg.Error as e:
            raise DatabaseError(f"数据库暂时无法连接：{e}") from e
        return PendingUpload.from_json(dict(row[0]), bytes(row[1]), float(row[2])) if row else None

    def _write(self, query: str, args: tuple[object, ...]) -> None:
        try:
            with connection(self.pool, self.timeout) as conn:
                conn.execute(query.encode(), args)
        except psycopg.Error as e:
            raise DatabaseError(f"数据库暂时无法连接：{e}") from e
