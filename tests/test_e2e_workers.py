"""End to end: two real `python bot.py` processes over one PostgreSQL knowledge base
(DATABASE_URL), each talking to a Bot API stand-in of its own. An admin's upload confirmed on
one is answered by the other within 2 s, with no restart and no /reload."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botproc import BotProcess, buttons

from tests.botapi import BotApiStub, Call
from tests.e2e_documents import NINGBO

ADMIN = 4242
QUESTION = "宁波市财政局2021年主动公开政府信息多少条？"


class Worker(BotProcess):
    """A bot process of its own (own token, stand-in, local cache and state) on the database."""

    def __init__(self, stub: BotApiStub, base: Path, token: str, url: str) -> None:
        (base / "knowledge").mkdir(parents=True)
        super().__init__(
            stub, base / "knowledge", base / "state", base / "bot.log", token, (ADMIN,)
        )
        self.url = url

    def env(self) -> dict[str, str]:
        return {**super().env(), "DATABASE_URL": self.url}


@pytest.fixture
def workers(pg_loaded: str, tmp_path: Path) -> Iterator[tuple[Worker, Worker]]:
    tokens = ("515151:E2E-worker-a", "525252:E2E-worker-b")
    with BotApiStub(tokens[0], "WorkerA") as stub_a, BotApiStub(tokens[1], "WorkerB") as stub_b:
        running = []
        try:
            for name, stub, token in (("a", stub_a, tokens[0]), ("b", stub_b, tokens[1])):
                stub.add_user(ADMIN)
                worker = Worker(stub, tmp_path / name, token, pg_loaded)
                worker.start()
                running.append(worker)
            yield running[0], running[1]
        finally:
            for worker in running:
                worker.stop()


def say(worker: Worker, text: str, user: int) -> Call:
    mark = len(worker.stub.calls)
    worker.stub.send_message(text, user_id=user)
    return worker.stub.wait_for("sendMessage", lambda p: p["chat_id"] == user, 15, mark)


def test_an_upload_on_one_worker_is_answered_by_the_other(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    before = say(b, QUESTION, user=8001).params["text"]
    assert "485 条" not in before
    mark = len(a.stub.calls)
    a.stub.send_document("ningbo_czj_2021.txt", NINGBO.encode("gbk"), user_id=ADMIN)
    preview = a.stub.wait_for("sendMessage", lambda p: p["chat_id"] == ADMIN, 30, mark)
    assert "导入预览" in preview.params["text"], preview.params["text"]
    mark = len(a.stub.calls)
    data = buttons(preview.params)["确认入库"]
    a.stub.press_button(preview.result["message_id"], data, user_id=ADMIN, chat_id=ADMIN)
    done = a.stub.wait_for("editMessageText", lambda p: p["chat_id"] == ADMIN, 30, mark)
    assert done.params["text"].startswith("✅ 已入库"), done.params["text"]
    confirmed = time.monotonic()
    user = 8002
    while True:
        answer = say(b, QUESTION, user=user).params["text"]
        if "485 条" in answer:
            break
        assert time.monotonic() - confirmed < 2.0, answer
        user += 1
        time.sleep(0.1)
    assert "宁波市财政局2021年法治政府建设工作总结" in answer
    assert not (b.knowledge / "reports").exists()  # the knowledge is in the database
