"""Admin work under way in PostgreSQL (reportqa.steps.Steps), shared by every worker: uploads
waiting for 确认入库 and open admin dialogues.

An upload is taken out with DELETE … RETURNING, and a dialogue moved on only from the step it
was read at, so two presses or two messages handled by two workers at once act once. A database
out of reach makes an admin's step fail with DatabaseError (the admin is told); the check for an
open dialogue, made for every admin text, says "none" instead, so the admin's questions are still
answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from reportqa.db.schema import DatabaseError
from reportqa.db.state import run
from reportqa.steps import DIALOGUE_TTL, UPLOAD_TTL, Dialogue, PendingUpload

log = logging.getLogger(__name__)
T = TypeVar("T")
_OPEN = "updated > now() - make_interval(secs => %s)"  # a dialogue not yet expired


class PgSteps:
    """Admin work under way, for every worker (see the module docstring)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    # ------------------------------------------------------------------ uploads

    def put_upload(self, token: str, upload: PendingUpload) -> None:
        self._do(
            lambda c: c.execute(
                "INSERT INTO bot_pending (token, upload, data, created) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (token) DO UPDATE SET upload = EXCLUDED.upload,"
                " data = EXCLUDED.data, created = EXCLUDED.created",
                (token, Jsonb(upload.to_json()), upload.data, upload.created),
            ),
            timeout=5.0,  # up to 20 MB
        )

    def owner(self, token: str) -> int | None:
        row = self._do(
            lambda c: c.execute(
                "SELECT (upload->>'admin')::bigint FROM bot_pending"
                " WHERE token = %s AND created >= %s",
                (token, time.time() - UPLOAD_TTL),
            ).fetchone()
        )
        return int(row[0]) if row else None

    def upload(self, token: str) -> PendingUpload | None:
        return self._upload(
            "SELECT upload, data, created FROM bot_pending WHERE token = %s AND created >= %s",
            token,
        )

    def take_upload(self, token: str) -> PendingUpload | None:
        return self._upload(
            "DELETE FROM bot_pending WHERE token = %s AND created >= %s"
            " RETURNING upload, data, created",
            token,
        )

    def drop_upload(self, token: str) -> None:
        self._do(lambda c: c.execute("DELETE FROM bot_pending WHERE token = %s", (token,)))

    def expire(self) -> None:
        def delete(c: psycopg.Connection) -> None:
            c.execute("DELETE FROM bot_pending WHERE created < %s", (time.time() - UPLOAD_TTL,))
            c.execute(f"DELETE FROM bot_dialogues WHERE NOT {_OPEN}", (DIALOGUE_TTL,))

        self._do(delete)

    # ------------------------------------------------------------------ dialogues

    def dialogue(self, chat_id: int, user_id: int) -> Dialogue | None:
        try:
            row = run(
                self.pool,
                lambda c: c.execute(
                    "SELECT state FROM bot_dialogues"
                    f" WHERE chat_id = %s AND user_id = %s AND {_OPEN}",
                    (chat_id, user_id, DIALOGUE_TTL),
                ).fetchone(),
            )
        except psycopg.Error as e:
            log.warning("admin dialogues: database out of reach: %s", e)
            return None
        return dict(row[0]) if row else None

    def set_dialogue(self, chat_id: int, user_id: int, state: Dialogue | None) -> None:
        if state is None:
            self._do(
                lambda c: c.execute(
                    "DELETE FROM bot_dialogues WHERE chat_id = %s AND user_id = %s",
                    (chat_id, user_id),
                )
            )
            return
        self._do(
            lambda c: c.execute(
                "INSERT INTO bot_dialogues (chat_id, user_id, state) VALUES (%s, %s, %s)"
                " ON CONFLICT (chat_id, user_id) DO UPDATE"
                " SET state = EXCLUDED.state, updated = now()",
                (chat_id, user_id, Jsonb(state)),
            )
        )

    def advance(self, chat_id: int, user_id: int, before: Dialogue, after: Dialogue | None) -> bool:
        where = f"chat_id = %s AND user_id = %s AND state = %s AND {_OPEN}"
        key = (chat_id, user_id, Jsonb(before), DIALOGUE_TTL)
        if after is None:
            query, args = f"DELETE FROM bot_dialogues WHERE {where} RETURNING 1", key
        else:
            query = (
                f"UPDATE bot_dialogues SET state = %s, updated = now() WHERE {where} RETURNING 1"
            )
            args = (Jsonb(after), *key)
        return self._do(lambda c: c.execute(query.encode(), args).fetchone()) is not None

    # ------------------------------------------------------------------ the database

    def _upload(self, query: str, token: str) -> PendingUpload | None:
        row = self._do(
            lambda c: c.execute(query.encode(), (token, time.time() - UPLOAD_TTL)).fetchone(),
            timeout=5.0,
        )
        return PendingUpload.from_json(dict(row[0]), bytes(row[1]), float(row[2])) if row else None

    def _do(self, op: Callable[[psycopg.Connection], T], timeout: float = 2.0) -> T:
        try:
            return run(self.pool, op, timeout)
        except psycopg.Error as e:
            raise DatabaseError(f"数据库暂时无法连接：{e}") from e
