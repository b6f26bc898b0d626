"""End to end, the deployment of "More than one machine": three real `python bot.py run
--webhook-url …` workers on one PostgreSQL (DATABASE_URL) behind a round-robin reverse proxy,
with one bot token; the Bot API stand-in delivers every update to the webhook, as Telegram does.
Each update may reach any worker:

- an upload previewed on one worker is confirmed on another and answered by all within 2 s;
- 50 admin writes at once, spread over the workers, lose none;
- a worker killed (SIGKILL) in the middle of a change leaves the knowledge base at the old or
  the new version, and the others go on answering;
- questions are answered while the database restarts;
- a conversation (a follow-up, /addfact step by step) goes on whichever worker gets the next
  message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from botproc import buttons
from conftest import RunCli

from reportqa.db.kb import CHANGE_LOCK
from tests.botapi import Call
from tests.cluster import ADMINS, SECRET, TOKEN, Cluster, running
from tests.e2e_documents import NINGBO

QUESTION = "宁波市财政局2021年主动公开政府信息多少条？"
KNOWN = "舟山市科技局2020年公开了多少条政府信息？"  # answered by the bundled reports
REPORT = "000_e1829581f26616c9"  # 舟山市经济和信息化局 2020, a bundled report


@pytest.fixture
def cluster(pg_loaded: str, tmp_path: Path) -> Iterator[Cluster]:
    with running(pg_loaded, tmp_path, 3, users=(8001,)) as c:
        yield c


def _upload(c: Cluster) -> tuple[Call, int]:
    """The admin sends the Ningbo report: its preview, and the worker that made it."""
    mark = len(c.stub.calls)
    c.stub.send_document("ningbo_czj_2021.txt", NINGBO.encode("gbk"), user_id=ADMINS[0])
    preview = c.stub.wait_for("sendMessage", lambda p: p["chat_id"] == ADMINS[0], 30, mark)
    assert "导入预览" in preview.params["text"], preview.params["text"]
    worker = next(
        f.worker for f in reversed(c.proxy.forwarded) if "document" in f.update.get("message", {})
    )
    return preview, worker


def test_an_upload_previewed_on_one_worker_is_confirmed_on_another_and_answered_by_all(
    cluster: Cluster,
) -> None:
    c = cluster
    assert "485 条" not in c.ask(QUESTION).params["text"]
    preview, previewed_on = _upload(c)
    mark = len(c.stub.calls)
    data = buttons(preview.params)["确认入库"]
    c.stub.press_button(preview.result["message_id"], data, user_id=ADMINS[0], chat_id=ADMINS[0])
    done = c.stub.wait_for("editMessageText", lambda p: p["chat_id"] == ADMINS[0], 30, mark)
    assert done.params["text"].startswith("✅ 已入库"), done.params["text"]
    confirmed = time.monotonic()
    assert c.proxy.worker_of("callback_query", data) != previewed_on  # the upload came along
    answered_by: dict[int, float] = {}  # worker -> seconds after the confirmation
    while len(answered_by) < 3:  # round robin: each question reaches the next worker
        answer = c.ask(QUESTION).params["text"]
        worker = c.proxy.forwarded[-1].worker
        if "485 条" in answer:
            answered_by.setdefault(worker, time.monotonic() - confirmed)
        assert time.monotonic() - confirmed < 10, (answered_by, answer)
    confirmed_on = c.proxy.worker_of("callback_query", data)
    others = [t for w, t in answered_by.items() if w != confirmed_on]
    assert min(others) < 2.0, answered_by  # another worker answers within 2 s
    for worker in c.workers:  # the token and the webhook secret never reach a log
        log = worker.log_text()
        assert TOKEN not in log and SECRET not in log and "Webhook received data" not in log


def test_fifty_admin_writes_spread_over_the_workers_lose_none(cluster: Cluster) -> None:
    c = cluster
    before = len(c.facts())
    mark = len(c.stub.calls)
    for n in range(50):
        admin = ADMINS[n % 2]
        c.stub.send_message(
            f"/addfact 集群测试问题第{n}号 | 集群测试答案{n} | {REPORT}", user_id=admin
        )
    deadline = time.monotonic() + 120
    while True:
        saved = [
            call
            for call in c.stub.calls[mark:]
            if call.method == "sendMessage" and call.params.get("chat_id") in ADMINS
        ]
        if len(saved) >= 50 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    texts = [call.params["text"] for call in saved]
    assert len(texts) == 50 and all(t.startswith("✅ 已添加问答") for t in texts), texts[:3]
    facts = c.facts()
    assert len(facts) == before + 50
    assert {f"集群测试问题第{n}号" for n in range(50)} <= set(facts)
    took = [
        f.worker
        for f in c.proxy.forwarded
        if "/addfact" in f.update.get("message", {}).get("text", "")
    ]
    assert set(took) == {0, 1, 2}  # spread over every worker


def test_a_worker_killed_during_a_change_leaves_the_old_or_the_new_version(
    cluster: Cluster, run_cli: RunCli
) -> None:
    c = cluster
    preview, _ = _upload(c)
    data = buttons(preview.params)["确认入库"]
    killed: list[int] = []  # the worker, once killed while it held the change lock

    def kill_in_the_change(worker: int) -> None:
        """Watch the change lock; SIGKILL the worker the moment its transaction holds it."""
        with psycopg.connect(c.url, autocommit=True) as conn:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                held = conn.execute(
                    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = %s"
                    " AND objsubid = 1 AND granted",
                    (CHANGE_LOCK,),
                ).fetchone()
                if held:
                    c.workers[worker].kill()
                    killed.append(worker)
                    return
                time.sleep(0.001)

    watchers: list[threading.Thread] = []

    def on_forward(update: dict, worker: int) -> None:  # type: ignore[type-arg]
        if update.get("callback_query", {}).get("data") == data and not watchers:
            watchers.append(threading.Thread(target=kill_in_the_change, args=(worker,)))
            watchers[0].start()

    c.proxy.on_forward = on_forward
    c.stub.press_button(preview.result["message_id"], data, user_id=ADMINS[0], chat_id=ADMINS[0])
    deadline = time.monotonic() + 20
    while not watchers and time.monotonic() < deadline:
        time.sleep(0.01)
    watchers[0].join()
    assert killed, "the change lock was never seen held"
    with psycopg.connect(c.url, autocommit=True) as conn:
        reports = conn.execute(
            "SELECT count(*) FROM kb_reports WHERE agency = '宁波市财政局'"
        ).fetchone()
        passages = conn.execute(
            "SELECT count(*) FROM kb_passages p JOIN kb_reports r USING (report_id)"
            " WHERE r.agency = '宁波市财政局'"
        ).fetchone()
    assert reports is not None and passages is not None
    landed = reports[0] == 1
    assert (reports[0], passages[0] > 0) in ((0, False), (1, True))  # all or nothing
    # the other workers answer, with the version the database holds
    for _ in range(4):
        text = c.ask(QUESTION).params["text"]
        assert ("485 条" in text) == landed, text
        assert "舟山" in c.ask(KNOWN).params["text"]
    assert killed[0] not in {f.worker for f in c.proxy.forwarded[-8:]}  # routed around it
    # the database holds a whole knowledge base: the command line's check passes
    check = run_cli("validate", env=c.workers[0].env())  # DATABASE_URL: the database
    assert check.returncode == 0, check.stdout + check.stderr


def test_questions_are_answered_while_the_database_restarts(
    cluster: Cluster,
    pg_server,  # type: ignore[no-untyped-def]
) -> None:
    c = cluster
    assert "舟山" in c.ask(KNOWN).params["text"]
    pg_server.stop_server()
    try:
        for _ in range(6):  # every worker, twice, with the database down
            assert "舟山" in c.ask(KNOWN, timeout=20).params["text"]
    finally:
        pg_server.start_server()
    for _ in range(3):
        assert "舟山" in c.ask(KNOWN).params["text"]
    # and a change after the restart reaches every worker again
    mark = len(c.stub.calls)
    c.stub.send_message(
        f"/addfact 重启后添加的问题 | 重启后添加的答案 | {REPORT}", user_id=ADMINS[0]
    )
    c.stub.wait_for("sendMessage", lambda p: p["text"].startswith("✅ 已添加问答"), 30, mark)
    deadline = time.monotonic() + 15
    answered: set[int] = set()
    while len(answered) < 3:
        if c.ask("重启后添加的问题").params["text"].startswith("💡 重启后添加的答案"):
            answered.add(c.proxy.forwarded[-1].worker)
        assert time.monotonic() < deadline, answered


def test_a_conversation_goes_on_whichever_worker_gets_the_next_message(cluster: Cluster) -> None:
    c = cluster
    admin = ADMINS[1]
    steps = [
        ("/addfact", "请发送问题"),
        ("集群里逐步添加的问题", "其他问法"),
        ("无", "答案"),
        ("集群里逐步添加的答案", "来源报告的 ID"),
        (REPORT, "✅ 已添加问答"),
    ]
    took = []
    for text, expected in steps:
        assert expected in c.say(text, admin).params["text"]
        took.append(c.proxy.forwarded[-1].worker)
    assert len(set(took)) == 3  # the dialogue went through every worker
    c.say("舟山经信局2020年信用宣传活动开展了多少次？", 8001)
    follow = c.say("那科技局呢？", 8001).params["text"]  # on the next worker
    assert "按上一问理解为：科技局舟山2020年" in follow, follow
