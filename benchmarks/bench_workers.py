"""Questions answered per second by 1, 2 and 4 webhook workers on one PostgreSQL, behind a
round-robin reverse proxy, through the Bot API stand-in (which delivers to the webhook as
Telegram does).

    python benchmarks/bench_workers.py [--workers 1,2,4] [--questions 1000]

A throwaway PostgreSQL server is started (Debian's `postgresql` package, as the tests do) and
loaded with the bundled knowledge base. For each number of workers: a warm-up, then questions
one at a time (latency) and all queued at once from different users (throughput). Each worker
keeps its conversations, rate limit and question log in the database, as in production; the
flood limiter is off (TELEGRAM_FLOOD_LIMIT=0) so the workers' own capacity is measured. The
workers, PostgreSQL, the stand-in, the proxy and this driver share the machine's cores: the
table says how many. Prints a Markdown table; not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make tests.* importable
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_e2e import QUESTIONS  # noqa: E402
from reportqa.db import kb as db_kb  # noqa: E402
from reportqa.db.schema import connect, migrate  # noqa: E402
from tests.cluster import Cluster, running  # noqa: E402
from tests.pgserver import PgServer  # noqa: E402


def one_at_a_time(c: Cluster, n: int, first_user: int) -> list[float]:
    """Seconds from each question to its answer, one in flight at a time."""
    latencies = []
    for i in range(n):
        t0 = time.perf_counter()
        c.say(QUESTIONS[i % len(QUESTIONS)], first_user + i % 50, timeout=30)
        latencies.append(time.perf_counter() - t0)
    return latencies


def pipelined(c: Cluster, n: int, first_user: int) -> float:
    """Seconds to answer n questions queued at once, from n users."""
    mark = len(c.stub.calls)
    t0 = time.perf_counter()
    for i in range(n):
        c.stub.send_message(QUESTIONS[i % len(QUESTIONS)], user_id=first_user + i)
    deadline = time.monotonic() + 300
    while True:
        sent = sum(1 for call in c.stub.calls[mark:] if call.method == "sendMessage")
        if sent >= n:
            return time.perf_counter() - t0
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sent} of {n} questions answered in 300 s")
        time.sleep(0.005)


def measure(url: str, work: Path, workers: int, n: int) -> tuple[float, float, float]:
    """(answered/s pipelined, latency p50 ms, latency p95 ms) with `workers` workers."""
    base = work / f"{workers}-workers"
    with running(url, base, workers, env={"TELEGRAM_FLOOD_LIMIT": "0"}) as c:
        one_at_a_time(c, 20, 10_000)  # warm up every worker
        ms = sorted(x * 1000 for x in one_at_a_time(c, 100, 10_100))
        seconds = pipelined(c, n, 100_000 + workers * 10_000)
    return n / seconds, statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--questions", type=int, default=1000)
    args = parser.parse_args()
    counts = [int(x) for x in args.workers.split(",") if x.strip()]
    work = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    server = PgServer().start()
    rows = []
    try:
        with connect(server.url) as conn:
            migrate(conn)
            db_kb.import_folder(conn, ROOT / "knowledge", "bench")
        for workers in counts:
            rate, p50, p95 = measure(server.url, work, workers, args.questions)
            print(f"{workers} workers: {rate:.0f}/s, p50 {p50:.1f} ms", file=sys.stderr)
            rows.append((workers, rate, p50, p95))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"machine: {os.cpu_count()} cores shared by the workers, PostgreSQL, the stand-in, the "
        f"proxy and the driver; Python {platform.python_version()}; bundled knowledge base; "
        f"{args.questions} questions queued at once, 100 one at a time"
    )
    print()
    print("| workers | answered/s (queued at once) | latency p50 ms | latency p95 ms |")
    print("|---:|---:|---:|---:|")
    for workers, rate, p50, p95 in rows:
        print(f"| {workers} | {rate:.0f} | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
