"""The webhook mode, end to end: `python bot.py run --webhook-url …` registers its webhook with
the Bot API stand-in, serves updates POSTed to it (with the secret token) and answers through
the stand-in; a request without the secret is refused. Also: a malformed setting stops the
start with one clear message."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import ROOT_DIR, copy_knowledge

from tests.botapi import BotApiStub

TOKEN = "515151:WEBHOOK-token"
SECRET = "s3cret-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, update: dict, secret: str | None) -> int:  # type: ignore[type-arg]
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, json.dumps(update).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_webhook_mode_answers_and_checks_the_secret(tmp_path: Path) -> None:
    knowledge = copy_knowledge(tmp_path / "knowledge")
    port = free_port()
    with BotApiStub(TOKEN, "ReportQABot") as stub:
        stub.add_user(6001)  # the update is posted to the bot directly, not via the stand-in
        env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=stub.root,
            KNOWLEDGE_DIR=str(knowledge),
            BOT_STATE_DIR=str(tmp_path / "state"),
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "bot.py",
                "run",
                "--webhook-url",
                "https://bot.example.org/tg",
                "--listen",
                "127.0.0.1",
                "--port",
                str(port),
                "--secret",
                SECRET,
            ],
            cwd=ROOT_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            hook = stub.wait_for("setWebhook", timeout=60).params
            assert hook["url"] == "https://bot.example.org/tg"
            assert hook["secret_token"] == SECRET
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": 6001, "type": "private", "first_name": "测试"},
                    "from": {"id": 6001, "is_bot": False, "first_name": "测试"},
                    "text": "上海经信委办理信访件多少件",
                },
            }
            url = f"http://127.0.0.1:{port}/tg"
            deadline = time.monotonic() + 30
            while True:  # the web server starts right after setWebhook
                try:
                    status = post(url, update, SECRET)
                    break
                except (ConnectionError, urllib.error.URLError):
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert status == 200
            reply = stub.wait_for("sendMessage", lambda p: p["chat_id"] == 6001).params
            assert "1704件" in reply["text"]
            assert post(url, {**update, "update_id": 2}, "wrong") == 403
            assert post(url, {**update, "update_id": 3}, None) == 403
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_malformed_setting_stops_the_start_with_one_clear_message() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    for key, value, words in [
        ("BOT_ADMIN_IDS", "12,abc", "BOT_ADMIN_IDS"),
        ("TELEGRAM_BOT_TOKEN", "not-a-token", "TELEGRAM_BOT_TOKEN"),
        ("TELEGRAM_API_BASE_URL", "ftp://x", "TELEGRAM_API_BASE_URL"),
        ("TELEGRAM_FLOOD_LIMIT", "fast", "TELEGRAM_FLOOD_LIMIT"),
        ("TELEGRAM_WEBHOOK_SECRET", "has spaces!", "TELEGRAM_WEBHOOK_SECRET"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
    ]:
        res = subprocess.run(
            [sys.executable, "bot.py"],
            cwd=ROOT_DIR,
            env={**env, key: value},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert res.returncode == 2, (key, res.stderr)
        assert words in res.stderr and "Traceback" not in res.stderr
        assert res.stderr.strip().count("\n") == 0  # one line


def test_secrets_are_known_and_never_shown() -> None:
    from config import load_settings

    settings = load_settings(
        {
            "TELEGRAM_BOT_TOKEN": "1:tok-en",
            "TELEGRAM_WEBHOOK_SECRET": "hook_secret-1",
            "DATABASE_URL": "postgresql://bot:pa55word@db.internal/reportqa",
        }
    )
    assert settings.secrets() == ["1:tok-en", "hook_secret-1", "pa55word"]
    shown = repr(settings)
    assert not any(secret in shown for secret in settings.secrets())
    assert load_settings({}).secrets() == []
    for url in ("postgresql://bot:p%40ss@db/kb", "postgresql://bot@db/kb?password=p@ss"):
        assert "p@ss" in load_settings({"DATABASE_URL": url}).secrets()
