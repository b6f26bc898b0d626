"""End to end, the real `python bot.py` process: stopping while an upload is read, a token
Telegram rejects, and a Bot API that cannot be reached when the bot starts (issue 8).

Each test runs its own bot process against the Bot API stand-in on 127.0.0.1.
"""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

from botproc import BotProcess
from conftest import KNOWLEDGE, RunCli, copy_knowledge

from tests.botapi import BotApiStub

TOKEN = "565656:E2E-faults-secret_token"
ADMIN = 4242
ASKER = 9101
QUESTION = "舟山市经信局2020年班子成员开展了几次法律法规学习？"


def _bot(stub: BotApiStub, base: Path, token: str = TOKEN) -> BotProcess:
    copy_knowledge(base / "knowledge")
    return BotProcess(
        stub, base / "knowledge", base / "state", base / "bot.log", token, admins=(ADMIN,)
    )


def _large_report(chars: int) -> bytes:
    base = (KNOWLEDGE / "sources" / "000_e1829581f26616c9.txt").read_text(encoding="utf-8")
    parts, size, i = [], 0, 0
    while size < chars:
        parts.append(base.replace("2020", str(1990 + i % 30)))
        size += len(parts[-1]) + 1
        i += 1
    return "\n".join(parts).encode()


def test_a_stop_signal_during_a_large_upload_stops_the_bot_promptly(tmp_path: Path) -> None:
    """Reading this upload takes about ten seconds; SIGINT one second in ends the bot within a
    few, the reading is abandoned (the admin is told) and nothing is written."""
    with BotApiStub(TOKEN) as stub:
        stub.add_user(ADMIN)
        bot = _bot(stub, tmp_path)
        bot.start()
        assert bot.proc is not None
        before = sorted(p.name for p in (bot.knowledge / "reports").iterdir())
        mark = len(stub.calls)
        stub.send_document("big.txt", _large_report(1_900_000), user_id=ADMIN)
        stub.wait_for("file", after=mark, timeout=20)  # the bot has downloaded it
        time.sleep(1.0)
        started = time.monotonic()
        bot.proc.send_signal(signal.SIGINT)
        code = bot.proc.wait(timeout=30)
        stopped_after = time.monotonic() - started
        bot.proc = None
        sent = [c.params["text"] for c in stub.calls[mark:] if c.method == "sendMessage"]
    assert code == 0, bot.log_text()
    assert stopped_after < 6, f"took {stopped_after:.1f} s to stop"
    assert not any("导入预览" in text for text in sent)
    assert any("已停止处理" in text for text in sent), sent
    assert sorted(p.name for p in (bot.knowledge / "reports").iterdir()) == before


def test_a_rejected_token_is_said_in_one_line_and_never_printed(
    tmp_path: Path, run_cli: RunCli
) -> None:
    wrong = "123456:WRONG-token-that-must-never-be-printed"
    with BotApiStub(TOKEN) as stub:
        env = _bot(stub, tmp_path).env()
        env.update(TELEGRAM_BOT_TOKEN=wrong, TELEGRAM_API_BASE_URL=stub.root)
        for verbose in ((), ("-v",)):
            done = run_cli(*verbose, env=env)
            output = done.stdout + done.stderr
            assert done.returncode == 2, output
            assert "Telegram 拒绝了 TELEGRAM_BOT_TOKEN" in done.stderr
            assert wrong not in output and "WRONG-token" not in output, output
            assert "Traceback" not in output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_api_at_start_is_retried_until_it_answers(tmp_path: Path) -> None:
    port = _free_port()
    stub = BotApiStub(TOKEN)
    bot = _bot(stub, tmp_path)
    bot.start(api_root=f"http://127.0.0.1:{port}", wait=False)  # nothing listens there yet
    assert bot.proc is not None
    try:
        deadline = time.monotonic() + 30
        while bot.log_text().count("稍后自动重试") < 2 and time.monotonic() < deadline:
            assert bot.proc.poll() is None, bot.log_text()
            time.sleep(0.2)
        assert bot.log_text().count("稍后自动重试") >= 2, bot.log_text()
        assert bot.proc.poll() is None  # still running, still trying
        stub.start(port)
        stub.add_user(ASKER)
        stub.wait_polling(timeout=60)
        mark = len(stub.calls)
        stub.send_message(QUESTION, user_id=ASKER)
        answer = stub.wait_for("sendMessage", lambda p: p["chat_id"] == ASKER, 20, mark)
        assert "<b>" in answer.params["text"]
        assert TOKEN not in bot.log_text()
    finally:
        bot.stop()
        stub.stop()
    assert "Aborting" not in bot.log_text()
