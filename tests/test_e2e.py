"""End to end over real HTTP: the real `python bot.py` process against the Bot API stand-in.

One bot process serves the module (start-up takes about two seconds); the restart test starts
its own. Every scenario plays users through the stand-in and asserts on what the bot sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botproc import BotProcess, buttons
from conftest import copy_knowledge

from tests.botapi import BotApiStub

TOKEN = "424242:E2E-secret-token_value"
ADMIN = 4242
GROUP = -100777


class Bot(BotProcess):
    """A running bot process (one admin) and the stand-in it talks to."""

    def __init__(self, stub: BotApiStub, knowledge: Path, state: Path, log: Path) -> None:
        super().__init__(stub, knowledge, state, log, TOKEN, (ADMIN,))

    def ask(self, text: str, **kw: object) -> dict:  # type: ignore[type-arg]
        """Send a message and return the params of the bot's next sendMessage to that chat."""
        chat_id = kw.get("chat_id") or kw.get("user_id") or 1001
        mark = len(self.stub.calls)
        self.stub.send_message(text, **kw)  # type: ignore[arg-type]
        return self.stub.wait_for(
            "sendMessage", lambda p: p["chat_id"] == chat_id, after=mark
        ).params


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    base = tmp_path_factory.mktemp("e2e")
    knowledge = copy_knowledge(base / "knowledge")
    with BotApiStub(TOKEN, "ReportQABot") as stub:
        stub.add_user(ADMIN)
        running = Bot(stub, knowledge, base / "state", base / "bot.log")
        running.start()
        yield running
        running.stop()


def test_command_menus_are_set_at_start(bot: Bot) -> None:
    default = bot.stub.commands({"type": "default"})
    assert {c["command"] for c in default} >= {"start", "help", "ask", "agencies", "reports", "all"}
    assert all(c["description"] for c in default)
    assert bot.stub.commands({"type": "chat", "chat_id": ADMIN})


def test_question_gets_sentence_passage_source_and_buttons(bot: Bot) -> None:
    reply = bot.ask("舟山市科技局2020年在市政府信息公开网站公开了多少条信息？", user_id=2001)
    text = reply["text"]
    assert reply["parse_mode"] == "HTML"
    assert text.startswith("💡") and "<b>320条</b>" in text
    assert "舟山市科学技术局 · 《" in text and "2020年" in text
    assert set(buttons(reply)) >= {"更多结果", "原文", "👍", "👎"}


def test_more_results_edits_the_same_message(bot: Bot) -> None:
    reply = bot.ask("上城发改局信用修复办件多少件", user_id=2002)
    sent = bot.stub.messages_to(2002)[-1]
    mark = len(bot.stub.calls)
    bot.stub.press_button(sent["message_id"], buttons(reply)["更多结果"], user_id=2002)
    edit = bot.stub.wait_for("editMessageText", after=mark).params
    assert edit["message_id"] == sent["message_id"]
    assert "结果 2/" in edit["text"]
    assert bot.stub.wait_for("answerCallbackQuery", after=mark)


def test_original_passage_and_feedback(bot: Bot) -> None:
    reply = bot.ask("上海经信委办理信访件多少件", user_id=2003)
    sent = bot.stub.messages_to(2003)[-1]
    mark = len(bot.stub.calls)
    bot.stub.press_button(sent["message_id"], buttons(reply)["原文"], user_id=2003)
    full = bot.stub.wait_for("sendMessage", lambda p: p["chat_id"] == 2003, after=mark).params
    assert "1704件" in full["text"] and "上海市经济和信息化委员会" in full["text"]
    mark = len(bot.stub.calls)
    bot.stub.press_button(sent["message_id"], buttons(reply)["👍"], user_id=2003)
    answer = bot.stub.wait_for("answerCallbackQuery", after=mark).params
    assert "感谢" in answer.get("text", "")
    lines = (bot.state / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["vote"] == "up"


def test_no_answer_says_so_and_what_is_covered(bot: Bot) -> None:
    reply = bot.ask("宁波市财政局2020年预算执行情况怎么样？", user_id=2004)
    assert "没有找到" in reply["text"] and "知识库目前收录" in reply["text"]
    assert "舟山市经济和信息化局" in reply["text"]
    assert all(data.startswith("o|") for data in buttons(reply).values())  # nearest topics


def test_follow_up_reuses_the_topic(bot: Bot) -> None:
    bot.ask("舟山经信局2020年开展了几次法律法规学习？", user_id=2005)
    reply = bot.ask("那科技局呢？", user_id=2005)
    assert "按上一问理解为" in reply["text"]
    assert "舟山市科学技术局" in reply["text"] and "<b>8次</b>" in reply["text"]


def test_group_chatter_is_ignored_but_addressed_messages_are_answered(bot: Bot) -> None:
    stub = bot.stub
    mark = len(stub.calls)
    stub.send_message("大家好，今天开会吗", chat_id=GROUP, chat_type="supergroup", user_id=3001)
    stub.wait_delivered()
    reply = bot.ask(
        "/ask@ReportQABot 上海经信委办理信访件多少件",
        chat_id=GROUP,
        chat_type="supergroup",
        user_id=3001,
    )
    assert "1704件" in reply["text"]
    sends = [c for c in stub.calls[mark:] if c.method == "sendMessage"]
    assert len(sends) == 1  # the chatter got nothing
    reply = bot.ask(
        "@ReportQABot 舟山科技局执法证申领人数", chat_id=GROUP, chat_type="supergroup", user_id=3001
    )
    assert "10名" in reply["text"]
    bot_message = stub.messages_to(GROUP)[-1]["message_id"]
    reply = bot.ask(
        "那上城发改局信用宣传活动呢",
        chat_id=GROUP,
        chat_type="supergroup",
        user_id=3002,
        reply_to_message_id=bot_message,
    )
    assert "47次" in reply["text"]


def test_agencies_restrict_until_all(bot: Bot) -> None:
    reply = bot.ask("/agencies", user_id=2006)
    choice = next(d for t, d in buttons(reply).items() if t.startswith("上海市经济和信息化委员会"))
    listing = bot.stub.messages_to(2006)[-1]
    mark = len(bot.stub.calls)
    bot.stub.press_button(listing["message_id"], choice, user_id=2006)
    bot.stub.wait_for("sendMessage", lambda p: p["chat_id"] == 2006, after=mark)
    reply = bot.ask("信用宣传活动开展了多少次", user_id=2006)
    assert "上海市经济和信息化委员会" in reply["text"] or "没有找到" in reply["text"]
    assert "上城区" not in reply["text"].split("知识库目前收录")[0]
    bot.ask("/all", user_id=2006)
    reply = bot.ask("上城发改局信用宣传活动开展了多少次", user_id=2006)
    assert "47次" in reply["text"]


def test_reports_are_listed_and_paged(bot: Bot) -> None:
    reply = bot.ask("/reports", user_id=2007)
    assert "共 5 份" in reply["text"]
    assert sum(1 for d in buttons(reply).values() if d.startswith("R|")) == 5


def test_start_offers_example_questions_that_work(bot: Bot) -> None:
    reply = bot.ask("/start", user_id=2008)
    assert "5 份报告" in reply["text"]
    examples = {t: d for t, d in buttons(reply).items() if d.startswith("q|")}
    assert len(examples) >= 2
    listing = bot.stub.messages_to(2008)[-1]
    mark = len(bot.stub.calls)
    bot.stub.press_button(listing["message_id"], next(iter(examples.values())), user_id=2008)
    answer = bot.stub.wait_for("sendMessage", lambda p: p["chat_id"] == 2008, after=mark).params
    assert answer["text"].startswith("💡")


def test_help(bot: Bot) -> None:
    assert "/agencies" in bot.ask("/help", user_id=2009)["text"]


def test_inline_query_offers_results(bot: Bot) -> None:
    mark = len(bot.stub.calls)
    bot.stub.inline_query("上海经信委办理信访件多少件", user_id=2010)
    params = bot.stub.wait_for("answerInlineQuery", after=mark).params
    assert 1 <= len(params["results"]) <= 5
    first = params["results"][0]
    assert "1704" in first["input_message_content"]["message_text"]


def test_rate_limit_is_polite_and_does_no_work(bot: Bot) -> None:
    user = 2011
    for i in range(20):
        bot.ask(f"舟山经信局惠企政策发布了多少条{i}", user_id=user)
    reply = bot.ask("舟山经信局惠企政策发布了多少条", user_id=user)
    assert "太快" in reply["text"]


def test_a_failing_handler_apologises(bot: Bot) -> None:
    bot.stub.fail_next("sendMessage", status=400, description="Bad Request: chat is gone")
    mark = len(bot.stub.calls)
    bot.stub.send_message("上海经信委办理信访件多少件", user_id=2012)
    sorry = bot.stub.wait_for("sendMessage", lambda p: p["chat_id"] == 2012, after=mark).params
    assert "出了点问题" in sorry["text"]


def test_network_errors_are_retried(bot: Bot) -> None:
    bot.stub.drop_next("sendMessage")
    reply = bot.ask("上海经信委办理信访件多少件", user_id=2013)
    assert "1704件" in reply["text"]


def test_unknown_and_expired_buttons_are_answered(bot: Bot) -> None:
    reply = bot.ask("上海经信委办理信访件多少件", user_id=2014)
    sent = bot.stub.messages_to(2014)[-1]
    data = buttons(reply)["更多结果"].split("|")
    mark = len(bot.stub.calls)
    bot.stub.push_update(
        "callback_query",
        {
            "id": "expired-1",
            "from": {"id": 2014, "is_bot": False, "first_name": "测试"},
            "chat_instance": "x",
            "message": sent,
            "data": f"m|{'0' * len(data[1])}|1",
        },
    )
    # a query pushed by hand is unknown to the stand-in, so its answer is refused: what
    # matters is what the bot said
    answer = bot.stub.wait_for("answerCallbackQuery", after=mark, ok=None).params
    assert "过期" in answer["text"]


def test_token_never_reaches_the_log(bot: Bot) -> None:
    bot.stub.drop_next("sendMessage")
    bot.stub.drop_next("sendMessage")
    bot.stub.drop_next("sendMessage")
    bot.stub.drop_next("sendMessage")
    mark = len(bot.stub.calls)
    bot.stub.send_message("上海经信委办理信访件多少件", user_id=2015)
    bot.stub.wait_for("getUpdates", after=mark, timeout=20)
    time.sleep(0.5)
    log = bot.log.read_text(encoding="utf-8", errors="replace")
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    assert "error" in log.lower() or "retrying" in log.lower()


def test_buttons_keep_working_after_a_restart(tmp_path: Path) -> None:
    knowledge = copy_knowledge(tmp_path / "knowledge")
    with BotApiStub(TOKEN, "ReportQABot") as stub:
        first = Bot(stub, knowledge, tmp_path / "state", tmp_path / "bot.log")
        first.start()
        reply = first.ask("上城发改局信用修复办件多少件", user_id=2101)
        sent = stub.messages_to(2101)[-1]
        first.stop()
        second = Bot(stub, knowledge, tmp_path / "state", tmp_path / "bot.log")
        second.start()
        try:
            mark = len(stub.calls)
            stub.press_button(sent["message_id"], buttons(reply)["更多结果"], user_id=2101)
            edit = stub.wait_for("editMessageText", after=mark).params
            assert "结果 2/" in edit["text"]
        finally:
            second.stop()
