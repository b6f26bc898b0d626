"""The real `python bot.py` process, run against the Bot API stand-in (for end-to-end tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.botapi import BotApiStub

ROOT_DIR = Path(__file__).resolve().parent.parent


class BotProcess:
    """A running bot process and the stand-in it talks to."""

    def __init__(
        self,
        stub: BotApiStub,
        knowledge: Path,
        state: Path,
        log: Path,
        token: str,
        admins: tuple[int, ...] = (),
    ) -> None:
        self.stub = stub
        self.knowledge = knowledge
        self.state = state
        self.log = log
        self.token = token
        self.admins = admins
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """The environment of this bot's knowledge and state (no Telegram settings)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
        env.update(KNOWLEDGE_DIR=str(self.knowledge), BOT_STATE_DIR=str(self.state))
        return env

    def start(self, api_root: str | None = None, wait: bool = True) -> None:
        """Start the bot against the stand-in (or `api_root`, which may not answer yet); with
        `wait`, return once it polls."""
        env = self.env()
        env.update(TELEGRAM_BOT_TOKEN=self.token, TELEGRAM_API_BASE_URL=api_root or self.stub.root)
        if self.admins:
            env["BOT_ADMIN_IDS"] = ",".join(map(str, self.admins))
        self.proc = subprocess.Popen(
            [sys.executable, "bot.py", *self.args()],
            cwd=ROOT_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )
        if wait:
            self.wait_ready()

    def args(self) -> list[str]:
        """`bot.py`'s arguments (none: long polling)."""
        return []

    def wait_ready(self) -> None:
        """Until the bot takes updates (it polls)."""
        self.stub.wait_polling(timeout=60)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def buttons(params: dict) -> dict[str, str]:  # type: ignore[type-arg]
    """button text -> callback data of a message's inline keyboard."""
    rows = (params.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b.get("callback_data", "") for row in rows for b in row}
