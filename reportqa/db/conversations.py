"""Conversations in PostgreSQL (reportqa.conversations.Conversations), shared by every worker:
each chat's context, the questions behind buttons, the question log and feedback.

While the database is out of reach a worker goes on with what it saw last (its own view of each
chat and of the questions behind buttons, kept in memory as it reads and writes them), keeps no
log meanwhile and says so once. The admins' statistics, which only the database holds, say it is
out of reach (DatabaseError).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from reportqa.conversations import ChatState, Recent, Record, Scope, Usage, missed_questions
from reportqa.db.schema import DatabaseError
from reportqa.db.state import run

log = logging.getLogger(__name__)
KEEP_QUESTIONS = "90 days"  # how long the question behind a button is kept after its last use
T = TypeVar("T")
_MISSING = object()  # what a read gives when the database is out of reach


class PgConversations:
    """Conversations in PostgreSQL, for every worker (see the module docstring)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
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
        state = ChatState()
        if row is not None:
            previous, scope, label = row  # type: ignore[misc]
            state = ChatState(previous, frozenset(scope) if scope else None, label)
        self._chats.put(chat_id, state)
        return ChatState(state.previous, state.scope, state.scope_label)

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

    def set_previous(self, chat_id: int, question: str) -> None:
        seen = self._chats.get(chat_id) or ChatState()
        self._chats.put(chat_id, ChatState(question, seen.scope, seen.scope_label))
        self._run(
            "save a chat's question",
            lambda c: c.execute(
                "INSERT INTO bot_chats (chat_id, previous) VALUES (%s, %s)"
                " ON CONFLICT (chat_id) DO UPDATE SET previous = EXCLUDED.previous,"
                " updated = now()",
                (chat_id, question),
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
        rows = self._read(
            "SELECT count(*),"
            " count(*) FILTER (WHERE COALESCE((record->>'answered')::boolean, false))"
            " FROM bot_question_log WHERE t >= %s",
            (since,),
        )
        return Usage(int(rows[0][0]), int(rows[0][1]))  # type: ignore[call-overload]

    def unanswered(self, limit: int = 10) -> tuple[list[str], list[tuple[str, int]]]:
        rows = self._read(
            "SELECT record->>'question' FROM bot_question_log"
            " WHERE NOT COALESCE((record->>'answered')::boolean, false) ORDER BY id",
            (),
        )
        return missed_questions([str(r[0] or "") for r in rows], limit)

    def negative_feedback(self, limit: int = 10) -> list[Record]:
        rows = self._read(
            "SELECT record FROM bot_feedback WHERE record->>'vote' = 'down'"
            " ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        return [dict(r[0]) for r in rows]  # type: ignore[call-overload]

    # ------------------------------------------------------------------ the database

    def _log(self, table: str, record: Record) -> None:
        t = float(record.get("t", 0.0))  # type: ignore[arg-type]
        insert = sql.SQL("INSERT INTO {} (t, record) VALUES (%s, %s)").format(sql.Identifier(table))
        self._run(f"log to {table}", lambda c: c.execute(insert, (t, Jsonb(record))), None)

    def _read(self, query: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
        """Rows only the database holds (the admins' statistics): DatabaseError when it is out
        of reach."""
        try:
            return run(self.pool, lambda c: list(c.execute(query.encode(), args).fetchall()), 5.0)
        except psycopg.Error as e:
            raise DatabaseError(f"数据库暂时无法连接，统计无法读取：{e}") from e

    def _run(self, what: str, op: Callable[[psycopg.Connection], T], default: T) -> T:
        """`op` through `run`; `default` (and one warning until it is back) when the database
        is out of reach or fails."""
        try:
            out = run(self.pool, op)
        except psycopg.Error as e:
            if not self._down:
                log.warning("conversations: database out of reach (%s): %s", what, e)
            self._down = True
            return default
        if self._down:
            log.warning("conversations: database reachable again")
        self._down = False
        return out
