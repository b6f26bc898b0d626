"""The bot's state that every worker shares (DATABASE_URL): one question budget per user, and the
daily digest sent once, whichever worker's job runs first.

Each operation is one short transaction; a database out of reach is reported by the caller's
rules: the rate limit then lets the question through (answering matters more than counting) and
the digest is skipped rather than sent twice.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)
RATE_LOCK = 0x72717274  # pg_advisory_xact_lock class of per-user rate checks ("rqrt")


class PgRateLimiter:
    """At most `limit` questions per user in any `window` seconds, across every worker."""

    def __init__(self, pool: ConnectionPool, limit: int = 20, window: float = 60.0) -> None:
        self.pool, self.limit, self.window = pool, limit, window
        self._warned = False

    def allow(self, user_id: int) -> bool:
        try:
            with self.pool.connection(timeout=2.0) as conn, conn.transaction():
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
        with pool.connection(timeout=5.0) as conn:
            row = conn.execute(
                "INSERT INTO bot_digests (day, worker) VALUES (%s, %s)"
                " ON CONFLICT (day) DO NOTHING RETURNING day",
                (day, worker),
            ).fetchone()
    except psycopg.Error as e:
        log.warning("digest not sent: the database is out of reach (%s)", e)
        return False
    return row is not None
