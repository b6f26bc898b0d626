"""A cluster of webhook workers for end-to-end tests and the workers benchmark: real `python
bot.py run --webhook-url …` processes on one PostgreSQL (DATABASE_URL), behind a round-robin
reverse proxy (tests/proxy.py), with one bot token; the Bot API stand-in delivers every update to
the webhook, as Telegram does."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.botapi import BotApiStub, Call
from tests.botproc import BotProcess
from tests.proxy import RoundRobinProxy

TOKEN = "616161:E2E-cluster"
HOOK = "https://bot.example.org/tg"
SECRET = "cluster-secret"
ADMINS = (4242, 4343)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebhookWorker(BotProcess):
    """One worker: its own port, local cache folder and log; the database is shared."""

    def __init__(
        self, stub: BotApiStub, base: Path, url: str, port: int, extra: dict[str, str]
    ) -> None:
        (base / "knowledge").mkdir(parents=True)
        super().__init__(stub, base / "knowledge", base / "state", base / "bot.log", TOKEN, ADMINS)
        self.url, self.port, self.extra = url, port, extra

    def env(self) -> dict[str, str]:
        secret = {"TELEGRAM_WEBHOOK_SECRET": SECRET}
        return {**super().env(), "DATABASE_URL": self.url, **secret, **self.extra}

    def args(self) -> list[str]:
        port = str(self.port)
        return [
            "run",
            "--webhook-url",
            HOOK,
            "--listen",
            "127.0.0.1",
            "--port",
            port,
            "--secret",
            SECRET,
        ]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            assert self.proc is not None and self.proc.poll() is None, self.log_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, self.log_text()
                time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None


@dataclass
class Cluster:
    stub: BotApiStub
    proxy: RoundRobinProxy
    workers: list[WebhookWorker]
    url: str
    users: int = 900_000  # the last user ask() made up

    def ask(self, text: str, timeout: float = 15) -> Call:
        """A question from a new user (a user's budget is 20 questions a minute, across all
        the workers)."""
        self.users += 1
        return self.say(text, self.users, timeout)

    def say(self, text: str, user: int, timeout: float = 15) -> Call:
        mark = len(self.stub.calls)
        self.stub.send_message(text, user_id=user)
        return self.stub.wait_for("sendMessage", lambda p: p["chat_id"] == user, timeout, mark)

    def facts(self) -> list[str]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return [r[0] for r in conn.execute("SELECT question FROM kb_facts ORDER BY id")]


@contextmanager
def running(
    url: str, base: Path, n: int, users: tuple[int, ...] = (), env: dict[str, str] | None = None
) -> Iterator[Cluster]:
    """`n` workers on the database `url` (folders under `base`), ready for updates."""
    ports = [free_port() for _ in range(n)]
    with BotApiStub(TOKEN, "ClusterBot") as stub, RoundRobinProxy(ports) as proxy:
        stub.route_webhook(HOOK, proxy.url)
        for user in (*ADMINS, *users):
            stub.add_user(user)
        workers = [
            WebhookWorker(stub, base / f"w{i}", url, port, env or {})
            for i, port in enumerate(ports)
        ]
        try:
            for worker in workers:
                worker.start(wait=False)
            for worker in workers:
                worker.wait_ready()
            yield Cluster(stub, proxy, workers, url)
        finally:
            for worker in workers:
                worker.stop()
