"""The bot's state that every worker shares (DATABASE_URL): how it reaches the database, one
question budget per user, and the daily digest sent once whichever worker's job runs first.
(The conversations are in reportqa.db.conversations, admin work under way in
reportqa.db.steps.)

The state has a pool of its own (`state_pool`), so a long knowledge-base change never holds up
a question. Every call goes through `run`: the statement runs in a worker thread and the caller
waits at most about its timeout, for a connection and for the answer, so a database that is
down, or that hangs, costs a question at most that once. After a lost connection the database
is not asked again for RETRY seconds; each caller then does what matters most: the rate limit
lets the question through (answering matters more than counting), the digest is skipped rather
than sent twice, a conversation goes on with what this worker saw last.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import logging
import os
import queue
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

log = logging.getLogger(__name__)
RETRY = 3.0  # seconds a database found out of reach is not asked again (answers come first)
TIMEOUT = 1.0  # seconds a call waits for a connection, and again for its answer
RATE_LOCK = 0x72717274  # pg_advisory_xact_lock class of per-user rate checks ("rqrt")
T = TypeVar("T")


def state_pool(url: str, max_size: int = 8) -> ConnectionPool:
    """The pool of the bot's state: statements and lock waits limited on the server too; a
    connection checked before it is handed out (after a restart of the server) and a lost one
    sought again for a few seconds at a time (the next call starts a new search)."""
    return ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={
            "autocommit": True,
            "connect_timeout": 5,
            "options": "-c statement_timeout=2000 -c lock_timeout=1000",
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 2,
        },
        open=True,
        check=ConnectionPool.check_connection,
        reconnect_timeout=5.0,
        name="bot-state",
    )


class Unreachable(psycopg.OperationalError):
    """The database was out of reach a moment ago, or did not answer in time."""


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


class _Calls:
    """Daemon threads that run the database calls: one that hangs on a server that stopped
    answering never holds up the process's exit (a ThreadPoolExecutor's threads are joined at
    exit). Started at the first call, not at import (cutting reports forks only while the
    process has one thread)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._queue: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[[], Any]]]
        self._queue = queue.SimpleQueue()
        self._started = False
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if not self._started:
                for n in range(self._size):
                    threading.Thread(target=self._work, name=f"pg-state-{n}", daemon=True).start()
                self._started = True
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((future, fn))
        return future

    def _work(self) -> None:
        while True:
            future, fn = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as e:  # handed to the caller, as an executor does
                future.set_exception(e)


_calls = _Calls(16)


def run(pool: ConnectionPool, op: Callable[[psycopg.Connection], T], timeout: float = TIMEOUT) -> T:
    """`op(conn)` on a connection of `pool`, waiting at most about `timeout` seconds for the
    connection and as long again for the answer (a server that hangs keeps a worker thread, not
    the caller). Unreachable at once while the database is known to be out of reach; other
    database errors as raised (a lost connection also starts the RETRY pause)."""
    with _outages_lock:
        outage = _outages.setdefault(pool, Outage())
    if outage.skip():
        raise Unreachable("the database was out of reach a moment ago")
    future = _calls.submit(lambda: _on_connection(pool, op, timeout))
    try:
        out = future.result(timeout=2 * timeout + 0.5)
    except concurrent.futures.TimeoutError:
        outage.failed()
        raise Unreachable("the database did not answer in time") from None
    except psycopg.OperationalError as e:
        if _lost(e):
            outage.failed()
        raise
    outage.ok()
    return out


def _on_connection(
    pool: ConnectionPool, op: Callable[[psycopg.Connection], T], timeout: float
) -> T:
    with pool.connection(timeout=timeout) as conn:
        return op(conn)


def _lost(e: psycopg.OperationalError) -> bool:
    """Whether an error means the database is out of reach (no connection, a lost one, the
    server shutting down), not a conflict such as a deadlock or a serialisation failure."""
    state = e.sqlstate
    return isinstance(e, PoolTimeout) or state is None or state[:2] in ("08", "57")


class PgRateLimiter:
    """At most `limit` questions per user in any `window` seconds, across every worker."""

    def __init__(self, pool: ConnectionPool, limit: int = 20, window: float = 60.0) -> None:
        self.pool, self.limit, self.window = pool, limit, window
        self._warned = False

    def allow(self, user_id: int) -> bool:
        try:
            allowed = run(self.pool, lambda conn: self._count(conn, user_id))
        except psycopg.Error as e:  # out of reach: the question goes through
            if not self._warned:
                log.warning("rate limit unavailable (database): %s", e)
            self._warned = True
            return True
        self._warned = False
        return allowed

    def _count(self, conn: psycopg.Connection, user_id: int) -> bool:
        with conn.transaction():
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
            return True


def claim_digest(pool: ConnectionPool, day: datetime.date) -> bool:
    """Whether this worker sends `day`'s digest (True for exactly one worker; False, too, when
    the database is out of reach: better none than twice)."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        row = run(
            pool,
            lambda conn: conn.execute(
                "INSERT INTO bot_digests (day, worker) VALUES (%s, %s)"
                " ON CONFLICT (day) DO NOTHING RETURNING day",
                (day, worker),
            ).fetchone(),
            5.0,
        )
    except psycopg.Error as e:
        log.warning("digest not sent: the database is out of reach (%s)", e)
        return False
    return row is not None
