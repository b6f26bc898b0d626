"""Conversations and admin steps in PostgreSQL (reportqa/db/state.py) against a real server: what
one worker writes another reads, the logs say what the files say, two presses take an upload
once, and a database out of reach never stops a question."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from chat import ChatService
from reportqa.conversations import ChatState, Conversations, FileConversations
from reportqa.db.conversations import PgConversations
from reportqa.db.schema import DatabaseError
from reportqa.db.state import Unreachable, run
from reportqa.db.steps import PgSteps
from reportqa.kb.changes import Prepared
from reportqa.models import Passage, Report
from reportqa.search import Engine
from reportqa.steps import MemorySteps, PendingUpload, Steps

# ---------------------------------------------------------------------- one contract, two stores


def _records(store: Conversations) -> None:
    base = 1_000_000.0
    for n, (question, answered) in enumerate(
        [("甲", True), ("乙", False), ("丙", False), ("乙", False), ("丁", True)]
    ):
        store.log_question(
            {"t": base + n, "qid": f"q{n}", "question": question, "answered": answered}
        )
    store.log_question(
        {"t": base + 5, "qid": "q5", "question": "戊"}
    )  # an old record: no "answered"
    store.log_feedback({"t": base, "qid": "q0", "vote": "up", "question": "甲"})
    store.log_feedback({"t": base + 1, "qid": "q1", "vote": "down", "question": "乙"})
    store.log_feedback({"t": base + 2, "qid": "q2", "vote": "down", "question": "丙"})


def _logs_of(store: Conversations) -> tuple[object, ...]:
    return (
        store.usage(0.0),
        store.usage(1_000_003.0),
        store.unanswered(),
        store.unanswered(limit=1),
        [v["question"] for v in store.negative_feedback()],
        [v["question"] for v in store.negative_feedback(limit=1)],
    )


def test_the_database_logs_say_what_the_files_say(
    pools: list[ConnectionPool], tmp_path: Path
) -> None:
    files = FileConversations(tmp_path)
    worker_a, worker_b = PgConversations(pools[0]), PgConversations(pools[1])
    _records(files)
    _records(worker_a)
    got = _logs_of(worker_b)  # read on another worker
    assert got == _logs_of(files)
    usage_all, usage_late, (recent, frequent), *_ = got
    assert (usage_all.asked, usage_all.answered) == (6, 2)  # type: ignore[attr-defined]
    assert (usage_late.asked, usage_late.answered) == (3, 1)  # type: ignore[attr-defined]
    assert recent == ["戊", "乙", "丙"] and frequent == [("乙", 2), ("丙", 1), ("戊", 1)]
    assert got[4] == ["丙", "乙"]  # newest first


def test_a_chat_and_the_questions_behind_buttons_reach_every_worker(
    pools: list[ConnectionPool],
) -> None:
    a, b = PgConversations(pools[0]), PgConversations(pools[1])
    assert b.chat(42) == ChatState()
    a.save_chat(42, ChatState("上城区法律顾问", frozenset({"r1", "r2"}), "上城区"))
    assert b.chat(42) == ChatState("上城区法律顾问", frozenset({"r1", "r2"}), "上城区")
    b.save_chat(42, ChatState("第二个问题"))
    assert a.chat(42) == ChatState("第二个问题")  # the newest, whoever wrote it
    a.remember("abc", "问题", frozenset({"r1"}))
    a.remember("abc", "问题", frozenset({"r1"}))  # asked again: no error, no second row
    assert b.recall("abc") == ("问题", frozenset({"r1"}))
    assert b.recall("nope") is None


def test_a_follow_up_works_whichever_worker_gets_it(
    pools: list[ConnectionPool], engine: Engine
) -> None:
    """ChatService on two workers: a follow-up and the chat's report restriction go on."""
    a, b = (ChatService(lambda: engine, None, conversations=PgConversations(p)) for p in pools)
    first = a.ask(7, 7, "舟山经信局2020年信用宣传活动开展了多少次？")
    assert first.answer.answered
    follow = b.ask(7, 7, "那科技局呢？")  # on the other worker
    assert follow.followup and follow.question.startswith("科技局舟山2020年")
    a.restrict(7, [first.answer.hits[0].report], "某报告")
    assert b.scope_label(7) == "某报告"
    again = b.again(first.qid)  # the button of A's message, pressed on B
    assert again is not None and again.question == first.question


def test_out_of_reach_questions_go_on_and_statistics_say_so(down: ConnectionPool) -> None:
    store = PgConversations(down)
    store.save_chat(1, ChatState("上一个问题"))
    assert store.chat(1) == ChatState("上一个问题")  # as this worker saw it last
    store.remember("q1", "问题", None)
    assert store.recall("q1") == ("问题", None)
    store.log_question({"t": time.time(), "qid": "q1", "question": "问题", "answered": True})
    with pytest.raises(DatabaseError):
        store.usage(0.0)
    with pytest.raises(DatabaseError):
        store.unanswered()


# ---------------------------------------------------------------------- admin steps

REPORT = Report(
    "r9",
    "2023年法治政府建设工作报告",
    "某区司法局",
    2023,
    "工作报告",
    "r9.txt",
    (Passage("p0", ("一、主要工作",), "办理行政复议案件12件。"),),
)


def _upload(created: float | None = None) -> PendingUpload:
    prepared = Prepared(REPORT, ["title"], b"raw bytes", "r9.txt", {"year": 2023})
    upload = PendingUpload(prepared, b"raw bytes", "r9.txt", 5, {"year": 2023})
    if created is not None:
        upload.created = created
    return upload


def test_an_upload_shown_on_one_worker_is_confirmed_once_on_another(
    pools: list[ConnectionPool],
) -> None:
    a, b = PgSteps(pools[0]), PgSteps(pools[1])
    a.put_upload("t1", _upload())
    seen = b.upload("t1")
    assert seen is not None
    assert seen.prepared == _upload().prepared and seen.data == b"raw bytes"
    assert (seen.name, seen.admin, seen.flags) == ("r9.txt", 5, {"year": 2023})
    taken: list[PendingUpload | None] = []
    threads = [
        threading.Thread(target=lambda s=s: taken.append(s.take_upload("t1"))) for s in (a, b) * 5
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(u is not None for u in taken) == 1  # ten presses at once: saved once
    assert a.upload("t1") is None


@pytest.mark.parametrize("kind", ["memory", "postgres"])
def test_steps_contract(kind: str, request: pytest.FixtureRequest) -> None:
    """Both stores: expiry, a YAML upload (no raw file), dialogues per chat and admin."""
    if kind == "memory":
        first: Steps = MemorySteps()
        second: Steps = first
    else:
        pools = request.getfixturevalue("pools")
        first, second = PgSteps(pools[0]), PgSteps(pools[1])
    first.put_upload("old", _upload(created=time.time() - 7200))
    yaml_upload = _upload()
    yaml_upload.prepared.raw = None
    first.put_upload("new", yaml_upload)
    assert second.upload("old") is None and second.owner("old") is None  # past UPLOAD_TTL
    assert second.take_upload("old") is None
    second.expire()
    assert second.owner("new") == 5
    kept = second.upload("new")
    assert kept is not None and kept.prepared.raw is None
    dialogue = {
        "kind": "addfact",
        "step": "answer",
        "draft": {"question": "问", "alternatives": []},
    }
    first.set_dialogue(1, 5, dialogue)
    assert second.dialogue(1, 5) == dialogue
    assert second.dialogue(1, 6) is None and second.dialogue(2, 5) is None
    second.set_dialogue(1, 5, None)
    assert first.dialogue(1, 5) is None


def test_admin_steps_out_of_reach(down: ConnectionPool) -> None:
    steps = PgSteps(down)
    assert steps.dialogue(1, 5) is None  # the admin's text is then a question
    with pytest.raises(DatabaseError):
        steps.put_upload("t", _upload())
    with pytest.raises(DatabaseError):
        steps.take_upload("t")


def test_a_question_never_undoes_a_restriction_chosen_meanwhile(
    pools: list[ConnectionPool], engine: Engine
) -> None:
    a, b = (ChatService(lambda: engine, None, conversations=PgConversations(p)) for p in pools)
    report = engine.kb.reports[0]
    b.restrict(7, [report], "某报告")  # on B, while A answers a question of the same chat
    a.conversations.set_previous(7, "A 刚回答的问题")
    assert a.conversations.chat(7) == ChatState(
        "A 刚回答的问题", frozenset({report.report_id}), "某报告"
    )


def test_a_database_that_hangs_holds_a_call_up_only_so_long(pools: list[ConnectionPool]) -> None:
    """A statement that does not return in time: the caller goes on after about twice the
    timeout, and the next calls do not wait at all (the pause after a failure)."""
    start = time.monotonic()
    with pytest.raises(Unreachable):
        run(pools[0], lambda c: c.execute("SELECT pg_sleep(3)"), timeout=0.3)
    assert time.monotonic() - start < 1.5
    start = time.monotonic()
    with pytest.raises(Unreachable):
        run(pools[0], lambda c: c.execute("SELECT 1"))
    assert time.monotonic() - start < 0.1
    store = PgConversations(pools[0])
    store.save_chat(3, ChatState("本机看到的"))  # skipped in the pause: kept in memory
    assert store.chat(3) == ChatState("本机看到的")


@pytest.mark.parametrize("kind", ["memory", "postgres"])
def test_two_messages_at_once_move_a_dialogue_once(
    kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "memory":
        stores: list[Steps] = [MemorySteps()] * 2
    else:
        pools = request.getfixturevalue("pools")
        stores = [PgSteps(pools[0]), PgSteps(pools[1])]
    before = {"kind": "addfact", "step": "question", "draft": {}}
    stores[0].set_dialogue(1, 5, before)
    read = [s.dialogue(1, 5) for s in stores]
    assert read == [before, before]
    after = {"kind": "addfact", "step": "alternatives", "draft": {"question": "问题"}}
    moved = [False] * 10

    def move(i: int) -> None:
        moved[i] = stores[i % 2].advance(1, 5, before, {**after, "n": i})

    threads = [threading.Thread(target=move, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(moved) == 1
    winner = moved.index(True)
    assert stores[1].dialogue(1, 5) == {**after, "n": winner}
    assert stores[0].advance(1, 5, {**after, "n": winner}, None)  # closed
    assert stores[1].dialogue(1, 5) is None
    assert not stores[1].advance(1, 5, before, after)  # nothing open to move


def test_an_old_dialogue_is_closed(pools: list[ConnectionPool], db_url: str) -> None:
    steps = PgSteps(pools[0])
    steps.set_dialogue(1, 5, {"kind": "editing", "token": "t", "field": "year"})
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE bot_dialogues SET updated = now() - interval '2 hours'")
    assert steps.dialogue(1, 5) is None  # past DIALOGUE_TTL: the admin's text is a question
    memory = MemorySteps()
    memory.set_dialogue(1, 5, {"kind": "editing"})
    state, _ = memory.dialogues[(1, 5)]
    memory.dialogues[(1, 5)] = (state, time.time() - 7200)
    assert memory.dialogue(1, 5) is None


def test_a_call_left_hanging_never_holds_up_the_exit(db_url: str) -> None:
    """The thread of a call that did not answer in time is a daemon: the process still ends."""
    import subprocess
    import sys

    from tests.conftest import ROOT_DIR

    script = (
        "from psycopg_pool import ConnectionPool\n"
        "from reportqa.db.state import Unreachable, run\n"
        f"pool = ConnectionPool({db_url!r}, min_size=1, kwargs={{'autocommit': True}}, open=True)\n"
        "try:\n"
        "    run(pool, lambda c: c.execute('SELECT pg_sleep(30)'), timeout=0.2)\n"
        "except Unreachable:\n"
        "    print('gave up')\n"
    )
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT_DIR, capture_output=True, text=True, timeout=60
    )
    assert "gave up" in out.stdout, out.stderr
    assert time.monotonic() - start < 15  # not the 30 s the statement would take
