"""reportqa/db/state.py against a real PostgreSQL server: one question budget per user across
workers, and the daily digest claimed by exactly one worker."""

from __future__ import annotations

import datetime
import threading
import time

from psycopg_pool import ConnectionPool

from reportqa.db.state import PgRateLimiter, claim_digest


def test_one_budget_per_user_across_workers(pools: list[ConnectionPool]) -> None:
    a, b = (PgRateLimiter(pool, limit=3, window=1.0) for pool in pools)
    asked = [a.allow(7), b.allow(7), a.allow(7), b.allow(7), a.allow(7)]
    assert asked == [True, True, True, False, False]
    assert b.allow(8)  # another user has a budget of their own
    time.sleep(1.1)
    assert a.allow(7)  # the window has moved on


def test_questions_at_once_never_exceed_the_budget(pools: list[ConnectionPool]) -> None:
    limiters = [PgRateLimiter(pool, limit=10, window=60.0) for pool in pools]
    allowed: list[bool] = []
    lock = threading.Lock()

    def ask(limiter: PgRateLimiter) -> None:
        for _ in range(10):
            ok = limiter.allow(99)
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=ask, args=(lim,)) for lim in limiters * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 40 and allowed.count(True) == 10


def test_the_digest_is_claimed_once_a_day(pools: list[ConnectionPool]) -> None:
    day = datetime.date(2026, 12, 7)
    claims = [claim_digest(pool, day) for pool in pools * 2]
    assert claims == [True, False, False, False]
    assert claim_digest(pools[1], day + datetime.timedelta(days=1))


def test_a_database_out_of_reach_lets_questions_through_and_sends_no_digest(
    down: ConnectionPool,
) -> None:
    assert PgRateLimiter(down, limit=1).allow(1) and PgRateLimiter(down, limit=1).allow(1)
    assert claim_digest(down, datetime.date(2026, 12, 7)) is False
