"""End-to-end throughput: questions answered per second by the real bot process, through the
Bot API stand-in on 127.0.0.1 (tests/botapi/), and CPU milliseconds per question.

    python benchmarks/bench_e2e.py [--questions 300]

Two runs on the bundled knowledge base: one at a time (send a question, wait for the answer,
send the next) and pipelined (all questions queued at once, from different users). The bot
runs with TELEGRAM_FLOOD_LIMIT=0, i.e. without the limiter that keeps a real bot under
Telegram's ~30 messages a second, so what is measured is the bot's own capacity. The
stand-in (HTTP server, HTML validation) and this driver run on the same two cores: their CPU
time per question is shown too. Prints a Markdown table; not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make tests.botapi importable
    sys.path.insert(0, str(ROOT))

from tests.botapi import BotApiStub  # noqa: E402

TOKEN = "777000:BENCH-token"
QUESTIONS = [
    "舟山市科技局2020年在市政府信息公开网站公开了多少条信息？",
    "上城发改局信用修复办件多少件",
    "上海经信委办理信访件多少件",
    "普陀区2020年要实现多少件一件事网上掌上联办",
    "舟山经信局惠企政策发布了多少条",
    "宁波市财政局2020年预算执行情况",
    "上海經信委2020年承辦了多少件人大代表建議？",
    "舟山经信局开展了几次法率法规学习",
]
TARGET = 150.0  # answered questions a second, one at a time


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def start_bot(stub: BotApiStub, knowledge: Path, state: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=stub.root,
        KNOWLEDGE_DIR=str(knowledge),
        BOT_STATE_DIR=str(state),
        TELEGRAM_FLOOD_LIMIT="0",
    )
    proc = subprocess.Popen(
        [sys.executable, "bot.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stub.wait_polling(timeout=60)
    return proc


def one_at_a_time(stub: BotApiStub, n: int) -> list[float]:
    """Seconds from sending each question to its answer, one question in flight at a time."""
    latencies = []
    for i in range(n):
        user = 10_000 + i % 50  # 50 users, so no user reaches the per-user rate limit
        mark = len(stub.calls)
        t0 = time.perf_counter()
        stub.send_message(QUESTIONS[i % len(QUESTIONS)], user_id=user)
        stub.wait_for("sendMessage", lambda p, u=user: p["chat_id"] == u, after=mark, timeout=30)
        latencies.append(time.perf_counter() - t0)
    return latencies


def pipelined(stub: BotApiStub, n: int) -> float:
    """Seconds to answer n questions queued all at once."""
    mark = len(stub.calls)
    t0 = time.perf_counter()
    for i in range(n):
        stub.send_message(QUESTIONS[i % len(QUESTIONS)], user_id=20_000 + i)
    deadline = time.monotonic() + 120
    while True:
        sent = sum(1 for c in stub.calls[mark:] if c.method == "sendMessage")
        if sent >= n or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    n = args.questions
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    knowledge = work / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge, ignore=shutil.ignore_patterns(".cache"))
    with BotApiStub(TOKEN, "BenchBot") as stub:
        proc = start_bot(stub, knowledge, work / "state")
        try:
            one_at_a_time(stub, 20)  # warm up
            cpu0, own0 = cpu_seconds(proc.pid), time.process_time()
            latencies = one_at_a_time(stub, n)
            cpu1, own1 = cpu_seconds(proc.pid), time.process_time()
            seconds = pipelined(stub, n)
            cpu2, own2 = cpu_seconds(proc.pid), time.process_time()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    shutil.rmtree(work, ignore_errors=True)
    serial_rate = n / sum(latencies)
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{n} questions per run, bundled knowledge base, stand-in on 127.0.0.1"
    )
    print()
    print(
        "| mode | answered/s | latency p50 ms | latency p95 ms | bot CPU ms/question "
        "| stand-in CPU ms/question |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| one at a time | {serial_rate:.0f} | {p50:.1f} | {p95:.1f} | "
        f"{(cpu1 - cpu0) * 1000 / n:.1f} | {(own1 - own0) * 1000 / n:.1f} |"
    )
    print(
        f"| pipelined | {n / seconds:.0f} | – | – | {(cpu2 - cpu1) * 1000 / n:.1f} "
        f"| {(own2 - own1) * 1000 / n:.1f} |"
    )
    print()
    verdict = "met" if serial_rate >= TARGET else "NOT met"
    print(f"target: >= {TARGET:.0f} answered questions/s one at a time: {verdict}")


if __name__ == "__main__":
    main()
