"""The Telegram handlers, offline: a real `telegram.ext.Application` whose HTTP layer is a
recording request class, so every Bot API call the handlers make is captured (and checked the
way Telegram checks it) without a network or a stub server.

Updates are fed with `Application.process_update`; assertions are on the recorded calls.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Update
from telegram.error import NetworkError
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest, RequestData

import chat
import handlers
import telegram_app
from config import load_settings
from handlers import ask, callbacks, errors, reply, views
from handlers.state import BotData
from reportqa.kb.live import LiveKnowledge
from reportqa.models import KnowledgeBase
from reportqa.search import Engine
from tests.botapi import EntityParseError, parse_html, utf16_len

BOT_ID = 999
BOT_USERNAME = "ReportQABot"
TOKEN = "123456789:AAH-secret-TOKEN-never-logged"
USER: dict[str, Any] = {"id": 42, "is_bot": False, "first_name": "Li", "language_code": "zh-hans"}
OTHER_USER: dict[str, Any] = {"id": 43, "is_bot": False, "first_name": "Wang"}
PRIVATE: dict[str, Any] = {"id": 42, "type": "private", "first_name": "Li"}
GROUP: dict[str, Any] = {"id": -1001234567890, "type": "supergroup", "title": "报告讨论组"}

Q_KJ = "舟山市科技局2020年公开了多少条政府信息？"
Q_NONE = "宁波市财政局2020年预算执行情况"
Q_JX = "舟山市经信局开展了哪些普法活动？"
Q_PUFA = "开展了哪些普法活动？"  # unrestricted: the 上城 report answers it
KJ = "舟山市科学技术局"
SC = "杭州市上城区发展改革和经济信息化局"


# ====================================================================== the recording request


@dataclass
class Call:
    method: str  # Bot API method name as in the URL, e.g. "sendMessage"
    params: dict[str, Any]


class Rejected(Exception):
    """What Telegram would answer with 400 Bad Request."""


@dataclass
class RecordingRequest(BaseRequest):
    """Records every Bot API call and answers like Telegram would (including its 400s for
    invalid HTML, overlong texts and callback data), without any network."""

    calls: list[Call] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, list[Exception | int]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def fail_next(self, method: str, fault: Exception | int, times: int = 1) -> None:
        """Make the next `times` calls of `method` raise `fault` or answer with that status."""
        self.faults.setdefault(method, []).extend([fault] * times)

    async def do_request(  # type: ignore[override]
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        api = url.rsplit("/", 1)[-1]
        params = json.loads(json.dumps(request_data.parameters)) if request_data else {}
        self.calls.append(Call(api, params))
        if self.faults.get(api):
            fault = self.faults[api].pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault, _error(fault, "injected failure")
        try:
            result = self._result(api, params)
        except Rejected as e:
            self.rejected.append((api, str(e)))
            return 400, _error(400, f"Bad Request: {e}")
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # ------------------------------------------------------------------ results

    def _result(self, api: str, params: dict[str, Any]) -> Any:
        if api == "getMe":
            return bot_user() | {
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": True,
            }
        if api == "sendMessage":
            _check_text(params.get("text"), params.get("parse_mode"))
            _check_markup(params.get("reply_markup"))
            chat_id = int(params["chat_id"])
            message = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": GROUP if chat_id == GROUP["id"] else PRIVATE | {"id": chat_id},
                "from": bot_user(),
                "text": params["text"],
            }
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            self.messages[(chat_id, message["message_id"])] = message
            return message
        if api == "editMessageText":
            _check_text(params.get("text"), params.get("parse_mode"))
            _check_markup(params.get("reply_markup"))
            key = (int(params["chat_id"]), int(params["message_id"]))
            stored = self.messages.get(key)
            if stored is None:
                raise Rejected("message to edit not found")
            message = stored
            if message["text"] == params["text"] and message.get("reply_markup") == params.get(
                "reply_markup"
            ):
                raise Rejected("message is not modified")
            message = message | {"text": params["text"], "edit_date": int(time.time())}
            message.pop("reply_markup", None)
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            self.messages[key] = message
            return message
        if api == "answerCallbackQuery":
            if len(params.get("text") or "") > 200:
                raise Rejected("MESSAGE_TOO_LONG")
            return True
        if api == "answerInlineQuery":
            results = params.get("results")
            if not isinstance(results, list) or len(results) > 50:
                raise Rejected("RESULTS_TOO_MUCH")
            ids = [str(r["id"]) for r in results]
            if len(set(ids)) != len(ids) or any(len(i.encode()) > 64 for i in ids):
                raise Rejected("RESULT_ID_INVALID")
            for r in results:
                content = r["input_message_content"]
                _check_text(content.get("message_text"), content.get("parse_mode"))
            return True
        if api in ("sendChatAction", "setMyCommands", "deleteWebhook"):
            return True
        raise Rejected(f"method {api} is not simulated")

    # ------------------------------------------------------------------ queries

    def of(self, method: str, since: int = 0) -> list[dict[str, Any]]:
        return [c.params for c in self.calls[since:] if c.method == method]


def bot_user() -> dict[str, Any]:
    return {"id": BOT_ID, "is_bot": True, "first_name": "报告问答", "username": BOT_USERNAME}


def _error(code: int, description: str) -> bytes:
    return json.dumps({"ok": False, "error_code": code, "description": description}).encode()


def _check_text(text: Any, parse_mode: Any) -> None:
    if not isinstance(text, str):
        raise Rejected("message text is empty")
    plain = text
    if parse_mode == "HTML":
        try:
            plain, _ = parse_html(text)
        except EntityParseError as e:
            raise Rejected(f"can't parse entities: {e}") from None
    if not plain.strip():
        raise Rejected("message text is empty")
    if len(plain.strip()) > 4096:
        raise Rejected("message is too long")


def _check_markup(markup: Any) -> None:
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
                raise Rejected("BUTTON_DATA_INVALID")


def buttons(params: dict[str, Any]) -> list[tuple[str, str]]:
    """(text, callback_data) of every button of a sent message, row by row."""
    markup = params.get("reply_markup") or {}
    return [
        (b["text"], b.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


def plain_text(params: dict[str, Any]) -> str:
    return parse_html(params["text"])[0] if params.get("parse_mode") == "HTML" else params["text"]


# ====================================================================== the harness


class Harness:
    """The application plus helpers that play the users."""

    def __init__(self, app: Application, rec: RecordingRequest, service: chat.ChatService):  # type: ignore[type-arg]
        self.app = app
        self.rec = rec
        self.service = service
        self._updates = itertools.count(1)
        self._user_messages = itertools.count(1)
        self._queries = itertools.count(1)

    def mark(self) -> int:
        return len(self.rec.calls)

    def sent(self, since: int = 0) -> list[dict[str, Any]]:
        return self.rec.of("sendMessage", since)

    async def feed(self, kind: str, payload: dict[str, Any]) -> None:
        data = {"update_id": next(self._updates), kind: payload}
        await self.app.process_update(Update.de_json(data, self.app.bot))

    async def say(
        self,
        text: str,
        chat_: dict[str, Any] = PRIVATE,
        user: dict[str, Any] = USER,
        entities: list[dict[str, Any]] | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A user's message; bot commands at the start get their entity automatically."""
        message: dict[str, Any] = {
            "message_id": next(self._user_messages),
            "date": int(time.time()),
            "chat": chat_,
            "from": user,
            "text": text,
        }
        if entities is None and text.startswith("/"):
            command = text.split()[0]
            entities = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        await self.feed("message", message)
        return message

    async def press(
        self, data: str, message: dict[str, Any] | None = None, user: dict[str, Any] = USER
    ) -> str:
        """Press a button with `data` on `message` (default: the bot's last message)."""
        if message is None:
            message = list(self.rec.messages.values())[-1]
        query_id = f"cq{next(self._queries)}"
        await self.feed(
            "callback_query",
            {
                "id": query_id,
                "from": user,
                "chat_instance": "ci-1",
                "data": data,
                "message": message,
            },
        )
        return query_id

    async def inline(self, text: str, user: dict[str, Any] = USER) -> list[dict[str, Any]]:
        query_id = f"iq{next(self._queries)}"
        since = self.mark()
        await self.feed("inline_query", {"id": query_id, "from": user, "query": text, "offset": ""})
        (answer,) = self.rec.of("answerInlineQuery", since)
        assert answer["inline_query_id"] == query_id
        return answer["results"]

    def callback_answer(self, query_id: str) -> dict[str, Any]:
        answers = [
            p for p in self.rec.of("answerCallbackQuery") if p["callback_query_id"] == query_id
        ]
        assert len(answers) == 1, answers  # every press is answered exactly once
        return answers[0]

    def bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        """The stored message that a recorded sendMessage created."""
        for message in self.rec.messages.values():
            if message["text"] == params["text"] and message["chat"]["id"] == int(
                params["chat_id"]
            ):
                return message
        raise AssertionError("no such message")


async def start(service: chat.ChatService, settings: Any) -> Harness:
    rec, rec_updates = RecordingRequest(), RecordingRequest()
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .request(rec)
        .get_updates_request(rec_updates)
        .context_types(ContextTypes(bot_data=BotData))
        .build()
    )
    live = LiveKnowledge(settings.knowledge_dir, service.engine)
    app.bot_data.attach(service, settings, live)
    handlers.register(app, settings.admin_ids)
    await app.initialize()
    return Harness(app, rec, service)


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_settings(
        {
            "KNOWLEDGE_DIR": str(tmp_path / "knowledge"),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "BOT_STATE_DIR": str(tmp_path),
            "BOT_ADMIN_IDS": "7",
        }
    )


@pytest.fixture
def service(engine: Engine, tmp_path: Path) -> chat.ChatService:
    return chat.ChatService(lambda: engine, tmp_path)


@pytest.fixture
async def bot(service: chat.ChatService, settings: Any) -> AsyncIterator[Harness]:
    h = await start(service, settings)
    try:
        yield h
    finally:
        await h.app.shutdown()
    assert not h.rec.rejected, f"Telegram would have refused: {h.rec.rejected}"


def mention(text: str, name: str = f"@{BOT_USERNAME}") -> list[dict[str, Any]]:
    at = text.index(name)
    return [{"type": "mention", "offset": utf16_len(text[:at]), "length": utf16_len(name)}]


# ====================================================================== questions


async def test_initialize_calls_get_me(bot: Harness) -> None:
    assert bot.rec.calls[0].method == "getMe"
    assert bot.app.bot.username == BOT_USERNAME and bot.app.bot.id == BOT_ID


async def test_private_question_gets_one_html_answer_with_buttons(bot: Harness) -> None:
    await bot.say(Q_KJ)
    (sent,) = bot.sent()
    assert sent["chat_id"] == PRIVATE["id"]
    assert sent["parse_mode"] == "HTML"
    assert sent["link_preview_options"] == {"is_disabled": True}
    text = sent["text"]
    assert text.startswith("💡 ")
    assert "<b>320条</b>" in text and "<b>352条</b>" in text  # the numbers are bold
    plain = plain_text(sent)
    assert f"{KJ} · 《舟山市科学技术局2020年法治舟山(法治政府)工作总结》" in plain
    assert plain.rstrip().endswith("· 2020年")
    _, entities = parse_html(text)
    assert {"bold", "italic", "blockquote"} <= {e["type"] for e in entities}

    labels = buttons(sent)
    assert [t for t, _ in labels] == ["更多结果", "原文", "👍", "👎"]
    data = dict(labels)
    qid = data["👍"].split("|")[2]
    assert data["更多结果"] == f"m|{qid}|1"
    assert data["原文"].startswith("o|") and len(data["原文"]) == 2 + 12
    assert data["👍"] == f"f|+|{qid}" and data["👎"] == f"f|-|{qid}"
    assert all(len(d.encode()) <= 64 for _, d in labels)
    # the question is logged for the buttons of this message
    logged = [json.loads(line) for line in (bot.service.state_dir / chat.QUESTION_LOG).open()]  # type: ignore[operator]
    assert logged[-1]["qid"] == qid and logged[-1]["question"] == Q_KJ and logged[-1]["answered"]


async def test_no_answer_is_said_plainly_with_what_the_kb_covers(bot: Harness) -> None:
    await bot.say(Q_NONE)
    (sent,) = bot.sent()
    plain = plain_text(sent)
    assert "没有找到" in plain and "财政局" in plain
    assert "知识库目前收录" in plain
    for agency in (KJ, SC, "上海市经济和信息化委员会"):
        assert agency in plain
    assert "💡" not in plain
    # nearest topics are offered as 原文 buttons, never as an answer
    assert buttons(sent) and all(d.startswith("o|") for _, d in buttons(sent))


async def test_group_chatter_not_addressed_to_the_bot_is_ignored(bot: Harness) -> None:
    await bot.say(Q_KJ, GROUP)
    await bot.say(
        f"{Q_KJ} @SomeOtherBot", GROUP, entities=mention(f"{Q_KJ} @SomeOtherBot", "@SomeOtherBot")
    )
    await bot.say(f"@{BOT_USERNAME} {Q_KJ}", GROUP)  # the name typed, but no mention entity
    human = {"message_id": 1, "date": 0, "chat": GROUP, "from": OTHER_USER, "text": "hi"}
    await bot.say(Q_KJ, GROUP, reply_to=human)  # a reply to a person
    assert bot.sent() == []


async def test_group_mention_is_answered(bot: Harness) -> None:
    text = f"@{BOT_USERNAME} {Q_KJ}"
    asked = await bot.say(text, GROUP, entities=mention(text))
    (sent,) = bot.sent()
    assert sent["chat_id"] == GROUP["id"] and sent["text"].startswith("💡 ")
    assert sent["reply_parameters"]["message_id"] == asked["message_id"]  # quotes the question
    # the mention is removed from the question that is asked
    logged = [json.loads(line) for line in (bot.service.state_dir / chat.QUESTION_LOG).open()]  # type: ignore[operator]
    assert logged[-1]["question"] == Q_KJ


async def test_group_mention_in_the_middle_and_other_case(bot: Harness) -> None:
    text = f"请问 @reportqabot {Q_KJ}"
    await bot.say(text, GROUP, entities=mention(text, "@reportqabot"))
    (sent,) = bot.sent()
    assert sent["text"].startswith("💡 ")


async def test_group_reply_to_the_bot_is_answered(bot: Harness) -> None:
    text = f"@{BOT_USERNAME} {Q_JX}"
    await bot.say(text, GROUP, entities=mention(text))
    first = bot.bot_message(bot.sent()[0])
    await bot.say("那科技局呢？", GROUP, reply_to=first)
    assert len(bot.sent()) == 2
    follow = plain_text(bot.sent()[1])
    assert "按上一问理解为" in follow and KJ in follow


async def test_ask_command_in_a_group(bot: Harness) -> None:
    await bot.say(f"/ask {Q_KJ}", GROUP)
    await bot.say(f"/ask@{BOT_USERNAME} {Q_KJ}", GROUP)
    sent = bot.sent()
    assert len(sent) == 2 and all(s["text"].startswith("💡 ") for s in sent)


async def test_ask_command_for_another_bot_is_ignored(bot: Harness) -> None:
    await bot.say(f"/ask@SomeOtherBot {Q_KJ}", GROUP)
    assert bot.sent() == []


@pytest.mark.parametrize("text", ["/ask", "/ask   ", f"/ask@{BOT_USERNAME}"])
async def test_ask_alone_gets_the_usage(bot: Harness, text: str) -> None:
    await bot.say(text, GROUP)
    (sent,) = bot.sent()
    assert sent["text"] == ask.USAGE


async def test_follow_up_uses_the_previous_question(bot: Harness) -> None:
    await bot.say(Q_JX)
    first = plain_text(bot.sent()[0])
    assert "舟山市经济和信息化局" in first
    await bot.say("那科技局呢？")
    second = bot.sent()[1]
    plain = plain_text(second)
    assert plain.startswith("（按上一问理解为：")
    assert "普法活动" in plain.splitlines()[0]
    assert plain.splitlines()[1].startswith("💡 ")  # answered, not just the nearest content
    assert f"📄 {KJ} · " in plain
    assert "<i>（按上一问理解为：" in second["text"]


async def test_follow_ups_are_per_chat(bot: Harness) -> None:
    await bot.say(Q_JX)
    text = f"@{BOT_USERNAME} 那科技局呢？"
    await bot.say(text, GROUP, entities=mention(text))
    assert "按上一问理解为" not in plain_text(bot.sent()[1])


# ====================================================================== buttons


async def _first_answer(
    bot: Harness, question: str = Q_KJ
) -> tuple[dict[str, Any], dict[str, str]]:
    await bot.say(question)
    sent = bot.sent()[-1]
    return bot.bot_message(sent), {t: d for t, d in buttons(sent)}


async def test_more_results_edits_the_answer(bot: Harness) -> None:
    message, data = await _first_answer(bot)
    since = bot.mark()
    query = await bot.press(data["更多结果"], message)
    answer = bot.callback_answer(query)
    assert not answer.get("text") and not answer.get("show_alert")
    (edit,) = bot.rec.of("editMessageText", since)
    assert edit["chat_id"] == PRIVATE["id"] and edit["message_id"] == message["message_id"]
    assert edit["parse_mode"] == "HTML"
    assert "结果 2/" in plain_text(edit)
    assert bot.sent(since) == []
    labels = dict(buttons(edit))
    qid = data["👍"].split("|")[2]
    assert labels["返回答案"] == f"m|{qid}|0"
    assert labels.get("更多结果", f"m|{qid}|2") == f"m|{qid}|2"

    # back to the answer, then past the last result
    back = await bot.press(f"m|{qid}|0", bot.rec.messages[(PRIVATE["id"], message["message_id"])])
    assert not bot.callback_answer(back).get("show_alert")
    assert bot.rec.messages[(PRIVATE["id"], message["message_id"])]["text"] == message["text"]
    beyond = await bot.press(f"m|{qid}|99", message)
    assert bot.callback_answer(beyond)["text"] == "没有更多结果了。"


async def test_unchanged_edit_is_not_an_error(bot: Harness) -> None:
    message, data = await _first_answer(bot)
    qid = data["👍"].split("|")[2]
    since = bot.mark()
    query = await bot.press(f"m|{qid}|0", message)  # the text it already shows
    assert bot.callback_answer(query).get("text") is None
    assert bot.rec.rejected == [("editMessageText", "message is not modified")]
    assert bot.sent(since) == []  # no apology: the error is expected and suppressed
    bot.rec.rejected.clear()


async def test_expired_more_results_button(bot: Harness) -> None:
    await bot.say(Q_KJ)
    since = bot.mark()
    query = await bot.press("m|nonexistent|1")
    answer = bot.callback_answer(query)
    assert answer["show_alert"] is True and "过期" in answer["text"]
    assert bot.rec.of("editMessageText", since) == [] and bot.sent(since) == []


async def test_original_passage_is_sent_whole(bot: Harness, engine: Engine) -> None:
    message, data = await _first_answer(bot)
    since = bot.mark()
    query = await bot.press(data["原文"], message)
    assert not bot.callback_answer(query).get("show_alert")
    (sent,) = bot.sent(since)
    report, passage = callbacks.find_passage(engine.kb, data["原文"].split("|")[1])  # type: ignore[misc]
    plain = plain_text(sent)
    assert plain.startswith(passage.text)
    assert f"📄 {KJ} · " in plain and report.agency == KJ


async def test_unknown_passage_key(bot: Harness) -> None:
    await bot.say(Q_KJ)
    since = bot.mark()
    query = await bot.press("o|unknown")
    answer = bot.callback_answer(query)
    assert answer["show_alert"] is True and "已更新或删除" in answer["text"]
    assert bot.sent(since) == []


@pytest.mark.parametrize(("button", "vote"), [("👍", "up"), ("👎", "down")])
async def test_feedback_is_recorded(bot: Harness, tmp_path: Path, button: str, vote: str) -> None:
    message, data = await _first_answer(bot)
    query = await bot.press(data[button], message)
    assert "感谢" in bot.callback_answer(query)["text"]
    (line,) = (tmp_path / chat.FEEDBACK_LOG).read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["vote"] == vote and record["user"] == USER["id"]
    assert record["question"] == Q_KJ and record["qid"] == data[button].split("|")[2]


async def test_feedback_for_an_unknown_question(bot: Harness, tmp_path: Path) -> None:
    await bot.say(Q_KJ)
    query = await bot.press("f|+|nonexistent")
    assert "过期" in bot.callback_answer(query)["text"]
    assert not (tmp_path / chat.FEEDBACK_LOG).exists()


async def test_buttons_survive_a_restart(bot: Harness, engine: Engine, tmp_path: Path) -> None:
    """A new service over the same state folder still knows the questions of old buttons."""
    message, data = await _first_answer(bot)
    bot.app.bot_data.attach(
        chat.ChatService(lambda: engine, tmp_path), bot.app.bot_data.settings, bot.app.bot_data.live
    )
    query = await bot.press(data["更多结果"], message)
    assert not bot.callback_answer(query).get("show_alert")
    assert len(bot.rec.of("editMessageText")) == 1


@pytest.mark.parametrize("data", ["zzz", "x|1", "q|nonexistent"])
async def test_unknown_or_expired_buttons_are_still_answered(bot: Harness, data: str) -> None:
    await bot.say(Q_KJ)
    since = bot.mark()
    query = await bot.press(data)
    answer = bot.callback_answer(query)
    assert bot.sent(since) == []
    if data.startswith("q|"):
        assert answer["show_alert"] is True and "过期" in answer["text"]


# ====================================================================== browsing


async def test_start_summary_and_example_buttons(bot: Harness, engine: Engine) -> None:
    await bot.say("/start")
    (sent,) = bot.sent()
    plain = plain_text(sent)
    assert f"知识库收录 {len(engine.kb.reports)} 份报告" in plain
    assert KJ in plain
    examples = buttons(sent)
    assert examples and all(d.startswith("q|") and len(d.encode()) <= 64 for _, d in examples)

    text, data = examples[0]
    since = bot.mark()
    query = await bot.press(data, bot.bot_message(sent))
    assert not bot.callback_answer(query).get("show_alert")
    (answer,) = bot.sent(since)
    assert answer["text"].startswith("💡 ")
    logged = [json.loads(line) for line in (bot.service.state_dir / chat.QUESTION_LOG).open()]  # type: ignore[operator]
    assert logged[-1]["question"].startswith(text) and logged[-1]["user"] == USER["id"]


async def test_help_is_valid_html(bot: Harness) -> None:
    await bot.say("/help")
    (sent,) = bot.sent()
    assert "怎么提问" in plain_text(sent) and "/agencies" in plain_text(sent)


async def test_agencies_restrict_the_chat_until_all(bot: Harness, engine: Engine) -> None:
    await bot.say(Q_PUFA)
    assert f"📄 {SC} · " in plain_text(bot.sent()[-1])  # unrestricted

    await bot.say("/agencies")
    listing = bot.sent()[-1]
    agencies = {r.agency for r in engine.kb.reports}
    assert plain_text(listing).startswith(f"知识库中的机构（共 {len(agencies)} 个）")
    keys = buttons(listing)
    assert len(keys) == len(agencies)
    assert all(d.startswith("A|") and len(d.encode()) <= 64 for _, d in keys)
    label, data = next((t, d) for t, d in keys if t.startswith(KJ))
    assert label == f"{KJ}（1 份）"

    since = bot.mark()
    query = await bot.press(data, bot.bot_message(listing))
    assert bot.callback_answer(query)["text"] == f"已限定为：{KJ}"
    (confirm,) = bot.sent(since)
    assert f"<b>{KJ}</b>" in confirm["text"]

    await bot.say(Q_PUFA)
    assert f"📄 {KJ} · " in plain_text(bot.sent()[-1])
    await bot.say("/agencies")
    assert f"当前限定：{KJ}" in plain_text(bot.sent()[-1])

    await bot.say("/all")
    assert "全部报告" in plain_text(bot.sent()[-1])
    await bot.say(Q_PUFA)
    assert f"📄 {SC} · " in plain_text(bot.sent()[-1])


async def test_choose_one_report(bot: Harness, engine: Engine) -> None:
    await bot.say("/reports")
    listing = bot.sent()[-1]
    assert f"共 {len(engine.kb.reports)} 份，{engine.kb.passage_count} 段" in plain_text(listing)
    keys = buttons(listing)
    assert [d[0] for _, d in keys] == ["R"] * len(engine.kb.reports)  # one page, no arrows
    data = next(d for t, d in keys if KJ in t)
    query = await bot.press(data, bot.bot_message(listing))
    assert bot.callback_answer(query)["text"] == "已限定为这份报告"
    await bot.say(Q_PUFA)
    assert f"📄 {KJ} · " in plain_text(bot.sent()[-1])


@pytest.mark.parametrize("data", ["A|0000000000", "R|0000000000"])
async def test_choosing_something_gone(bot: Harness, data: str) -> None:
    await bot.say("/agencies")
    since = bot.mark()
    query = await bot.press(data)
    answer = bot.callback_answer(query)
    assert answer["show_alert"] is True and "已不在知识库中" in answer["text"]
    assert bot.sent(since) == []


@pytest.fixture
async def many_reports(engine: Engine, settings: Any) -> AsyncIterator[Harness]:
    """A service whose knowledge base lists 20 reports of 20 agencies (for paging)."""
    base = engine.kb.reports[0]
    reports = tuple(
        replace(base, report_id=f"r{i:02d}", agency=f"测试机构{i:02d}", year=2000 + i)
        for i in range(20)
    )
    fake_engine = SimpleNamespace(kb=KnowledgeBase(reports=reports))
    h = await start(chat.ChatService(lambda: fake_engine, None), settings)  # type: ignore[arg-type,return-value]
    yield h
    await h.app.shutdown()
    assert not h.rec.rejected


async def test_reports_paging_edits_the_message(many_reports: Harness) -> None:
    bot = many_reports
    await bot.say("/reports")
    listing = bot.sent()[-1]
    keys = buttons(listing)
    assert keys[0][0].startswith("2000 测试机构00")
    assert len(keys) == views.PAGE + 1 and keys[-1] == ("下一页 ▶", "r|1")

    message = bot.bot_message(listing)
    since = bot.mark()
    query = await bot.press("r|1", message)
    assert not bot.callback_answer(query).get("text")
    (edit,) = bot.rec.of("editMessageText", since)
    assert edit["message_id"] == message["message_id"] and edit["parse_mode"] == "HTML"
    assert bot.sent(since) == []
    page = buttons(edit)
    assert page[0][0].startswith("2008 测试机构08")
    assert page[-2:] == [("◀ 上一页", "r|0"), ("下一页 ▶", "r|2")]

    query = await bot.press("r|99", bot.rec.messages[(PRIVATE["id"], message["message_id"])])
    last = bot.rec.of("editMessageText", since)[-1]
    assert buttons(last)[0][0].startswith("2016 测试机构16")  # clamped to the last page
    assert buttons(last)[-1] == ("◀ 上一页", "r|1")


async def test_agencies_paging(many_reports: Harness) -> None:
    bot = many_reports
    await bot.say("/agencies")
    listing = bot.sent()[-1]
    assert "共 20 个" in plain_text(listing)
    since = bot.mark()
    await bot.press("a|2", bot.bot_message(listing))
    (edit,) = bot.rec.of("editMessageText", since)
    labels = [t for t, _ in buttons(edit)]
    assert labels[0] == "测试机构16（1 份）" and labels[-1] == "◀ 上一页"


# ====================================================================== limits, inline, errors


async def test_rate_limit(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    bot.service.limiter = chat.RateLimiter(limit=3, window=60)
    asked: list[str] = []
    real_ask = bot.service.ask

    def counting_ask(*args: Any, **kwargs: Any) -> chat.Reply:
        asked.append(args[2])
        return real_ask(*args, **kwargs)

    monkeypatch.setattr(bot.service, "ask", counting_ask)
    for _ in range(4):
        await bot.say(Q_KJ)
    texts = [s["text"] for s in bot.sent()]
    assert len(texts) == 4
    assert all(t.startswith("💡 ") for t in texts[:3])
    assert texts[3] == ask.TOO_FAST.format(limit=3) and "太快" in texts[3]
    assert len(asked) == 3  # the engine is not asked for the 4th
    # another user is not limited
    await bot.say(Q_KJ, PRIVATE | {"id": OTHER_USER["id"]}, user=OTHER_USER)
    assert bot.sent()[-1]["text"].startswith("💡 ")


async def test_inline_query_answers(bot: Harness) -> None:
    results = await bot.inline(Q_KJ)
    assert 1 <= len(results) <= 5
    for r in results:
        assert r["type"] == "article"
        content = r["input_message_content"]
        assert content["parse_mode"] == "HTML"
        plain, _ = parse_html(content["message_text"])
        assert plain.strip()
    assert results[0]["input_message_content"]["message_text"].startswith("💡 ")
    assert "320条" in results[0]["title"]
    assert KJ in results[0]["description"]
    assert len({r["id"] for r in results}) == len(results)
    assert bot.sent() == []  # inline answers are not messages


async def test_inline_query_without_an_answer(bot: Harness) -> None:
    (result,) = await bot.inline(Q_NONE)
    assert result["id"].endswith("-none")
    assert "知识库目前收录" in parse_html(result["input_message_content"]["message_text"])[0]


async def test_empty_inline_query(bot: Harness) -> None:
    assert await bot.inline("   ") == []


async def test_inline_queries_are_rate_limited(bot: Harness) -> None:
    bot.service.limiter = chat.RateLimiter(limit=1, window=60)
    assert await bot.inline(Q_KJ)
    assert await bot.inline(Q_KJ) == []


async def test_typing_indicator_for_slow_answers(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reply, "TYPING_DELAY", 0.01)
    real_ask = bot.service.ask

    def slow_ask(*args: Any, **kwargs: Any) -> chat.Reply:
        time.sleep(0.2)
        return real_ask(*args, **kwargs)

    monkeypatch.setattr(bot.service, "ask", slow_ask)
    await bot.say(Q_KJ)
    (action,) = bot.rec.of("sendChatAction")
    assert action == {"chat_id": PRIVATE["id"], "action": "typing"}
    assert len(bot.sent()) == 1


async def test_network_error_is_retried(bot: Harness) -> None:
    bot.rec.fail_next("sendMessage", NetworkError("connection reset"))
    await bot.say(Q_KJ)
    attempts = bot.sent()
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert len(bot.rec.messages) == 1


async def test_bad_request_is_not_retried(bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
    bot.rec.fail_next("sendMessage", 400)
    with caplog.at_level(logging.ERROR, logger="handlers.errors"):
        await bot.say(Q_KJ)
    texts = [s["text"] for s in bot.sent()]
    assert len(texts) == 2 and texts[0].startswith("💡 ") and texts[1] == errors.SORRY


async def test_handler_exception_is_logged_and_apologised_for(
    bot: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> chat.Reply:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(bot.service, "ask", broken)
    with caplog.at_level(logging.DEBUG):
        await bot.say(Q_KJ)
    (sent,) = bot.sent()
    assert sent["text"] == errors.SORRY and sent["chat_id"] == PRIVATE["id"]
    (record,) = [r for r in caplog.records if r.name == "handlers.errors"]
    assert record.levelno == logging.ERROR
    assert record.exc_info and isinstance(record.exc_info[1], RuntimeError)
    assert "engine exploded" in caplog.text  # the traceback is logged
    secret = TOKEN.split(":", 1)[1]
    assert secret not in caplog.text
    for r in caplog.records:
        assert secret not in r.getMessage()


async def test_button_exception_answers_the_query(
    bot: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    message, data = await _first_answer(bot)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("index gone")

    monkeypatch.setattr(bot.service, "again", broken)
    since = bot.mark()
    with caplog.at_level(logging.ERROR, logger="handlers.errors"):
        query = await bot.press(data["更多结果"], message)
    answer = bot.callback_answer(query)
    assert answer["text"] == errors.SORRY and answer["show_alert"] is True
    assert bot.sent(since) == []
    assert any(r.name == "handlers.errors" for r in caplog.records)


async def test_apology_that_cannot_be_sent_is_only_logged(
    bot: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> chat.Reply:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(bot.service, "ask", broken)
    bot.rec.fail_next("sendMessage", 403)
    with caplog.at_level(logging.WARNING, logger="handlers.errors"):
        await bot.say(Q_KJ)
    assert any("could not apologise" in r.getMessage() for r in caplog.records)


async def test_post_init_sets_the_command_menus(bot: Harness) -> None:
    await telegram_app._post_init(bot.app)
    calls = bot.rec.of("setMyCommands")
    assert [c["scope"] for c in calls] == [{"type": "default"}, {"type": "chat", "chat_id": 7}]
    assert [c["command"] for c in calls[0]["commands"]] == [
        "start",
        "help",
        "ask",
        "agencies",
        "reports",
        "all",
    ]


async def test_concurrent_chats_are_answered(bot: Harness) -> None:
    """Updates of different chats processed concurrently each get their own answer."""
    users = [{"id": 100 + i, "is_bot": False, "first_name": f"U{i}"} for i in range(5)]
    await asyncio.gather(*(bot.say(Q_KJ, PRIVATE | {"id": u["id"]}, user=u) for u in users))
    sent = bot.sent()
    assert sorted(s["chat_id"] for s in sent) == [u["id"] for u in users]
    assert all(s["text"].startswith("💡 ") for s in sent)


@pytest.mark.parametrize("text", ["帮助", "help", "？"])
async def test_a_request_for_help_gets_the_help(bot: Harness, text: str) -> None:
    await bot.say(text)
    (sent,) = bot.sent()
    assert "怎么提问" in sent["text"] and "/agencies" in sent["text"]
    assert "💡" not in sent["text"]


@pytest.mark.parametrize("text", ["你好", "谢谢！", "在吗？", "hello"])
async def test_small_talk_gets_the_short_reply_not_a_passage(bot: Harness, text: str) -> None:
    await bot.say(text)
    (sent,) = bot.sent()
    assert sent["text"].startswith("我是政府报告问答机器人") and "💡" not in sent["text"]
    assert not buttons(sent)
