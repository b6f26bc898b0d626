"""The Bot API stand-in itself: raw HTTP, a real PTB ``Bot``, and a real polling ``Application``.

If these pass, end-to-end tests can trust that what the stub accepts Telegram would accept
(HTML, lengths, "not modified", ...) and that PTB sees the stub's answers as proper objects.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import statistics
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.botapi import BotApiStub, parse_html, user_entities

TOKEN = "123456:TEST-token"
USER = 1001


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub(TOKEN) as server:
        yield server


@pytest.fixture
def client(stub: BotApiStub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stub.root}/bot{TOKEN}/", timeout=10) as http:
        yield http


@pytest.fixture
async def bot(stub: BotApiStub) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=stub.base_url, base_file_url=stub.base_file_url) as ptb_bot:
        yield ptb_bot


def keyboard(*data: str) -> dict:
    return {"inline_keyboard": [[{"text": d, "callback_data": d} for d in data]]}


# ================================================================ raw HTTP


def test_get_me_and_unknown_method_and_tokens(stub: BotApiStub, client: httpx.Client) -> None:
    r = client.post("getMe")
    assert r.status_code == 200
    me = r.json()
    assert me["ok"] is True
    assert me["result"]["id"] == 123456
    assert me["result"]["is_bot"] is True
    assert me["result"]["username"] == "ReportQABot"

    r = client.post("getme")  # method names are case-insensitive, like Telegram's
    assert r.json()["result"]["is_bot"] is True

    not_found = {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    r = client.post("sendCarrierPigeon", json={"chat_id": 1})
    assert r.status_code == 404
    assert r.json() == not_found
    # a real Bot API method the bot never calls is not simulated: the same 404
    r = client.post("deleteMessage", json={"chat_id": 1, "message_id": 1})
    assert (r.status_code, r.json()) == (404, not_found)

    r = httpx.post(f"{stub.root}/bot123456:wrong/getMe")
    assert r.status_code == 401
    assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert httpx.post(f"{stub.root}/botnot-a-token/getMe").status_code == 404

    assert [c.method for c in stub.calls] == [
        "getMe",
        "getMe",
        "sendCarrierPigeon",
        "deleteMessage",
        "getMe",
        "getMe",
    ]
    assert [c.status for c in stub.calls] == [200, 200, 404, 404, 401, 404]


def test_long_poll_returns_as_soon_as_an_update_arrives(
    stub: BotApiStub, client: httpx.Client
) -> None:
    threading.Timer(0.3, stub.send_message, args=("你好",)).start()
    t0 = time.monotonic()
    r = client.post("getUpdates", data={"timeout": "5"})
    elapsed = time.monotonic() - t0
    assert 0.25 < elapsed < 1.5, elapsed
    updates = r.json()["result"]
    assert len(updates) == 1
    message = updates[0]["message"]
    assert message["text"] == "你好"
    assert message["chat"] == {"id": USER, "type": "private", "first_name": "测试"}
    assert message["from"]["is_bot"] is False
    assert isinstance(message["date"], int)
    assert abs(message["date"] - time.time()) < 5  # seconds, not milliseconds

    t0 = time.monotonic()  # nothing pending: the poll runs its full timeout
    r = client.post("getUpdates", data={"timeout": "0.3", "offset": updates[0]["update_id"] + 1})
    assert r.json()["result"] == []
    assert time.monotonic() - t0 >= 0.28


def test_offset_limit_and_allowed_updates(stub: BotApiStub, client: httpx.Client) -> None:
    for text in ("一", "二", "三"):
        stub.send_message(text)
    updates = client.post("getUpdates").json()["result"]
    ids = [u["update_id"] for u in updates]
    assert [u["message"]["text"] for u in updates] == ["一", "二", "三"]
    assert ids == sorted(ids)
    assert [u["message"]["message_id"] for u in updates] == [1, 2, 3]

    # not confirmed yet: delivered again; limit caps the batch
    again = client.post("getUpdates", data={"limit": "2"}).json()["result"]
    assert [u["update_id"] for u in again] == ids[:2]
    # offset confirms everything before it
    rest = client.post("getUpdates", data={"offset": str(ids[1] + 1)}).json()["result"]
    assert [u["update_id"] for u in rest] == ids[2:]
    assert client.post("getUpdates", data={"offset": str(ids[2] + 1)}).json()["result"] == []

    # negative offset: only the last -offset updates survive
    for text in ("四", "五", "六"):
        stub.send_message(text)
    last = client.post("getUpdates", data={"offset": "-1"}).json()["result"]
    assert [u["message"]["text"] for u in last] == ["六"]

    # allowed_updates filters kinds (and is remembered, like Telegram)
    stub.inline_query("报告")
    stub.send_message("七")
    only_messages = client.post(
        "getUpdates",
        data={"offset": str(last[0]["update_id"] + 1), "allowed_updates": '["message"]'},
    ).json()["result"]
    assert [next(k for k in u if k != "update_id") for u in only_messages] == ["message"]
    stub.inline_query("再来")
    assert client.post("getUpdates").json()["result"][-1].get("message", {}).get("text") == "七"


def test_parameters_in_every_encoding(stub: BotApiStub, client: httpx.Client) -> None:
    stub.send_message("hi")
    markup = keyboard("a", "b")
    # application/json, typed values
    r = client.post("sendMessage", json={"chat_id": USER, "text": "json", "reply_markup": markup})
    assert r.json()["result"]["reply_markup"] == markup
    # form-urlencoded, JSON-encoded objects (what PTB sends)
    r = client.post(
        "sendMessage",
        data={"chat_id": str(USER), "text": "form", "reply_markup": json.dumps(markup)},
    )
    assert r.json()["result"]["reply_markup"] == markup
    # query string
    r = client.get("sendMessage", params={"chat_id": str(USER), "text": "query"})
    assert r.json()["result"]["text"] == "query"
    # multipart/form-data (file uploads) is not simulated: the bot uploads nothing
    r = client.post(
        "sendMessage",
        data={"chat_id": str(USER), "text": "multipart"},
        files={"document": ("政府工作报告.txt", "全文".encode(), "text/plain")},
    )
    assert r.status_code == 400
    assert "multipart/form-data" in r.json()["description"]

    sends = [c for c in stub.calls if c.method == "sendMessage"]
    assert [(c.content_type, c.ok) for c in sends] == [
        ("application/json", True),
        ("application/x-www-form-urlencoded", True),
        ("", True),
        ("multipart/form-data", False),
    ]
    assert all(c.params["chat_id"] == USER for c in sends[:3])  # ints, whatever the encoding
    assert sends[1].params["reply_markup"] == markup  # decoded from its JSON string


def test_error_injection(stub: BotApiStub, client: httpx.Client) -> None:
    stub.send_message("hi")
    stub.fail_next("sendMessage", status=429, retry_after=3)
    r = client.post("sendMessage", json={"chat_id": USER, "text": "x"})
    assert r.status_code == 429
    assert r.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    stub.fail_next("sendMessage", times=2)
    assert client.post("sendMessage", json={"chat_id": USER, "text": "x"}).status_code == 500
    r = client.post("sendMessage", json={"chat_id": USER, "text": "x"})
    assert r.json()["description"] == "Internal Server Error"
    stub.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    assert client.post("sendMessage", json={"chat_id": USER, "text": "x"}).status_code == 400

    stub.drop_next("sendMessage")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("sendMessage", json={"chat_id": USER, "text": "x"})
    r = client.post("sendMessage", json={"chat_id": USER, "text": "after"})
    assert r.status_code == 200

    stub.delay_next("getMe", 0.3)
    with pytest.raises(httpx.ReadTimeout):
        client.post("getMe", timeout=0.1)

    statuses = [c.status for c in stub.calls if c.method == "sendMessage"]
    assert statuses == [429, 500, 500, 400, 0, 200]
    # wait_for only counts successes unless asked
    assert stub.wait_for("sendMessage").params["text"] == "after"
    assert stub.wait_for("sendMessage", ok=False).status == 429
    assert len(stub.messages_to(USER)) == 1


def test_html_is_validated_like_telegram(stub: BotApiStub, client: httpx.Client) -> None:
    stub.send_message("hi")

    def send(text: str, **extra: object) -> httpx.Response:
        return client.post("sendMessage", json={"chat_id": USER, "text": text, **extra})

    bad = {
        "<b>未闭合": 'Can\'t find end tag corresponding to start tag "b"',
        "第一段<br>第二段": 'Unsupported start tag "br" at byte offset 9',
        "GDP < 5%": 'Unsupported start tag "" at byte offset 4',
        "<b><i>x</b></i>": 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
        "<span>x</span>": 'Tag "span" must have class "tg-spoiler" at byte offset 0',
        "x</b>": "Unexpected end tag at byte offset 1",
    }
    for text, why in bad.items():
        r = send(text, parse_mode="HTML")
        assert r.status_code == 400, text
        assert r.json()["description"] == f"Bad Request: can't parse entities: {why}"
    # the same texts are fine without parse_mode
    assert send("GDP < 5%").status_code == 200

    r = send(
        '<b>增长</b> &lt;5% &amp; <a href="https://www.gov.cn">来源</a>'
        '<pre><code class="language-python">x = 1</code></pre>'
        '<blockquote expandable>引文</blockquote><span class="tg-spoiler">s</span>',
        parse_mode="HTML",
    )
    message = r.json()["result"]
    assert message["text"] == "增长 <5% & 来源x = 1引文s"
    assert message["entities"] == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "text_link", "offset": 9, "length": 2, "url": "https://www.gov.cn/"},
        {"type": "pre", "offset": 11, "length": 5, "language": "python"},
        {"type": "expandable_blockquote", "offset": 16, "length": 2},
        {"type": "spoiler", "offset": 18, "length": 1},
    ]
    assert stub.messages_to(USER)[-1]["raw_text"].startswith("<b>增长</b>")
    assert stub.messages_to(USER)[-1]["parse_mode"] == "HTML"

    assert send("x" * 4096).status_code == 200
    r = send("x" * 4097)
    assert r.json()["description"] == "Bad Request: message is too long"
    # the limit applies after parsing: tags don't count
    assert send("<b>" + "x" * 4096 + "</b>", parse_mode="HTML").status_code == 200
    assert send("  \n").json()["description"] == "Bad Request: message text is empty"
    assert send("x", parse_mode="Markdown2").json()["description"] == (
        "Bad Request: unsupported parse_mode"
    )
    assert send("3.5%", parse_mode="MarkdownV2").json()["description"] == (
        "Bad Request: parse_mode MarkdownV2 is not simulated by the Bot API stand-in"
    )
    assert send("x", reply_markup=keyboard("y" * 65)).json()["description"] == (
        "Bad Request: BUTTON_DATA_INVALID"
    )
    r = send("x", reply_markup={"inline_keyboard": [[{"text": "no action"}]]})
    assert "Text buttons are unallowed" in r.json()["description"]
    r = client.post("sendMessage", json={"chat_id": 999, "text": "x"})
    assert r.json()["description"] == "Bad Request: chat not found"
    stub.set_blocked(USER)
    assert send("x").status_code == 403


def test_edits_and_not_modified(stub: BotApiStub, client: httpx.Client) -> None:
    stub.send_message("hi")  # message 1 is the user's
    sent = client.post(
        "sendMessage",
        json={
            "chat_id": USER,
            "text": "<b>答</b>",
            "parse_mode": "HTML",
            "reply_markup": keyboard("更多"),
        },
    ).json()["result"]
    assert sent["message_id"] == 2
    assert sent["from"]["id"] == 123456 and sent["from"]["is_bot"] is True

    def edit(**params: object) -> httpx.Response:
        return client.post("editMessageText", json={"chat_id": USER, "message_id": 2, **params})

    same = edit(text="<b>答</b>", parse_mode="HTML", reply_markup=keyboard("更多"))
    assert same.status_code == 400
    assert same.json()["description"].startswith("Bad Request: message is not modified")
    # same text but no reply_markup: Telegram removes the keyboard -- that is a modification
    r = edit(text="<b>答</b>", parse_mode="HTML")
    assert r.status_code == 200
    assert "reply_markup" not in r.json()["result"]
    assert isinstance(r.json()["result"]["edit_date"], int)
    r = edit(text="新答案", reply_markup=keyboard("再问"))
    assert r.json()["result"]["text"] == "新答案"
    [current] = stub.messages_to(USER)
    assert current["text"] == "新答案" and current["reply_markup"] == keyboard("再问")
    assert "entities" not in current

    r = client.post(
        "editMessageReplyMarkup",
        json={"chat_id": USER, "message_id": 2, "reply_markup": keyboard("再问")},
    )
    assert r.json()["description"].startswith("Bad Request: message is not modified")
    r = client.post("editMessageReplyMarkup", json={"chat_id": USER, "message_id": 2})
    assert r.status_code == 200 and "reply_markup" not in r.json()["result"]

    assert edit(text="x", message_id=1).json()["description"] == (
        "Bad Request: message can't be edited"
    )
    assert edit(text="x", message_id=99).json()["description"] == (
        "Bad Request: message to edit not found"
    )
    r = client.post("editMessageText", json={"inline_message_id": "AAA", "text": "内联"})
    assert r.json() == {"ok": True, "result": True}


def test_webhook_and_competing_pollers(stub: BotApiStub, client: httpx.Client) -> None:
    assert client.post("setWebhook", data={"url": "https://example.org/hook"}).json()["ok"]
    assert stub.webhook is not None and stub.webhook["url"] == "https://example.org/hook"
    assert client.post("getUpdates").status_code == 409
    assert client.post("deleteWebhook").json() == {
        "ok": True,
        "result": True,
        "description": "Webhook was deleted",
    }
    assert stub.webhook is None

    # a second getUpdates terminates the first one, as with two bot instances
    result: dict[str, int] = {}

    def first() -> None:
        with httpx.Client(timeout=10) as other:
            result["status"] = other.post(
                stub.api_url("getUpdates"), data={"timeout": 5}
            ).status_code

    thread = threading.Thread(target=first)
    thread.start()
    stub.wait_polling(5)  # the first poll is waiting
    assert client.post("getUpdates", data={"timeout": 0}).status_code == 200
    thread.join(5)
    assert result["status"] == 409


def test_keep_alive_round_trips_are_fast(stub: BotApiStub, client: httpx.Client) -> None:
    """50 sequential calls on one keep-alive connection: no Nagle/delayed-ACK 40 ms stalls."""
    stub.send_message("hi")
    client.post("getMe")
    t0 = time.perf_counter()
    for i in range(50):
        client.post("sendMessage", data={"chat_id": str(USER), "text": f"m{i}"})
    per_call_ms = (time.perf_counter() - t0) / 50 * 1000
    print(f"raw httpx sendMessage round trip: {per_call_ms:.2f} ms")
    assert per_call_ms < 15


def test_user_side_entities() -> None:
    assert user_entities("/ask@ReportQABot 财政赤字") == [
        {"type": "bot_command", "offset": 0, "length": 16}
    ]
    assert user_entities("/ask财政") == []  # glued to a letter: not a command in Telegram
    assert user_entities("😀 @ReportQABot 好") == [{"type": "mention", "offset": 3, "length": 12}]
    assert parse_html("😀<b>x</b>") == ("😀x", [{"type": "bold", "offset": 2, "length": 1}])


# ================================================================ a real PTB Bot


async def test_ptb_bot_messages_keyboards_and_edits(stub: BotApiStub, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "ReportQABot" and me.is_bot
    stub.send_message("/start", username="tester")
    [update] = await bot.get_updates(timeout=1)
    assert isinstance(update, Update)
    message = update.effective_message
    assert message is not None and message.text == "/start"
    assert message.date.tzinfo is not None
    assert abs((message.date - dtm.datetime.now(dtm.UTC)).total_seconds()) < 5
    assert message.entities[0].type == "bot_command"
    assert update.effective_user is not None and update.effective_user.username == "tester"

    markup = InlineKeyboardMarkup([[InlineKeyboardButton("来源", callback_data="src:1")]])
    sent = await bot.send_message(
        USER, "<b>答案</b>", parse_mode=ParseMode.HTML, reply_markup=markup
    )
    assert sent.text == "答案" and sent.text_html == "<b>答案</b>"
    assert sent.reply_markup == markup
    assert sent.from_user is not None and sent.from_user.id == me.id
    call = stub.wait_for("sendMessage")
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.params["reply_markup"] == markup.to_dict()

    edited = await bot.edit_message_text(
        "答案（已更新）", USER, sent.message_id, reply_markup=markup
    )
    assert isinstance(edited, type(sent)) and edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("答案（已更新）", USER, sent.message_id, reply_markup=markup)
    with pytest.raises(BadRequest, match="(?i)can't find end tag"):
        await bot.send_message(USER, "<b>半截", parse_mode=ParseMode.HTML)

    stub.press_button(sent.message_id, "src:1")
    updates = await bot.get_updates(offset=update.update_id + 1, timeout=1)
    query = updates[0].callback_query
    assert query is not None and query.data == "src:1"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert query.message.reply_markup == markup
    assert await bot.answer_callback_query(query.id, text="好的")
    assert stub.callback_answers[query.id]["text"] == "好的"
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(ValueError, match="no button"):
        stub.press_button(sent.message_id, "nope")

    assert await bot.send_chat_action(USER, "typing")
    with pytest.raises(BadRequest, match="(?i)wrong parameter action"):
        await bot.send_chat_action(USER, "dancing")


async def test_ptb_bot_commands_inline_and_files(stub: BotApiStub, bot: Bot) -> None:
    commands = [BotCommand("ask", "提问"), BotCommand("reports", "报告列表")]
    scope = BotCommandScopeChat(USER)
    assert await bot.set_my_commands(commands, scope=scope)
    assert stub.commands({"type": "chat", "chat_id": USER}) == [c.to_dict() for c in commands]
    assert stub.commands() == []
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Ask", "大写")])

    query_id = stub.inline_query("赤字率")
    [update] = await bot.get_updates(timeout=1)
    assert update.inline_query is not None and update.inline_query.query == "赤字率"
    assert update.inline_query.id == query_id
    article = InlineQueryResultArticle("1", "赤字率", InputTextMessageContent("<b>3%</b>", "HTML"))
    assert await bot.answer_inline_query(query_id, [article], cache_time=0)
    assert stub.inline_answers[query_id]["results"][0]["id"] == "1"

    content = "第一部分\n" * 1000
    stub.send_document("报告.txt", content.encode(), caption="/ingest 2024")
    updates = await bot.get_updates(offset=update.update_id + 1, timeout=1)
    message = updates[0].message
    assert message is not None and message.document is not None
    assert message.document.file_name == "报告.txt"
    assert message.document.mime_type == "text/plain"
    assert message.caption_entities[0].type == "bot_command"
    file = await bot.get_file(message.document.file_id)
    assert file.file_path is not None and file.file_path.startswith(stub.base_file_url)
    data = await file.download_as_bytearray()
    assert bytes(data).decode() == content
    assert stub.wait_for("file").http_method == "GET"


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # retry_after int
async def test_ptb_bot_sees_telegram_errors(stub: BotApiStub, bot: Bot) -> None:
    stub.send_message("hi")
    stub.fail_next("sendMessage", status=429, retry_after=2)
    with pytest.raises(RetryAfter) as excinfo:
        await bot.send_message(USER, "x")
    assert "Retry in 2 seconds" in str(excinfo.value)
    stub.fail_next("sendMessage", status=500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(USER, "x")
    stub.drop_next("sendMessage")
    with pytest.raises(NetworkError, match="RemoteProtocolError"):
        await bot.send_message(USER, "x")
    assert (await bot.send_message(USER, "恢复")).text == "恢复"
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(42, "x")
    stub.webhook = {"url": "https://example.org/hook"}
    with pytest.raises(Conflict):
        await bot.get_updates()
    with pytest.raises(InvalidToken, match="rejected"):
        async with Bot("123456:other", base_url=stub.base_url):
            pass


async def test_ptb_long_poll_wakes_up_early(stub: BotApiStub, bot: Bot) -> None:
    asyncio.get_running_loop().call_later(0.2, stub.send_message, "醒醒")
    t0 = time.monotonic()
    [update] = await bot.get_updates(timeout=5)
    assert time.monotonic() - t0 < 1.5
    assert update.message is not None and update.message.text == "醒醒"


# ================================================================ a real polling Application


async def test_application_polling_echo_round_trip(stub: BotApiStub) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"回声：{update.message.text}")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(stub.base_url)
        .base_file_url(stub.base_file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await asyncio.to_thread(stub.wait_polling, 5)
            round_trips = []
            t_total = time.perf_counter()
            for i in range(20):
                start = len(stub.calls)
                t0 = time.perf_counter()
                stub.send_message(f"第{i}条")
                await stub.wait_for_async(
                    "sendMessage",
                    lambda p, i=i: p["text"] == f"回声：第{i}条",
                    timeout=5,
                    after=start,
                )
                round_trips.append((time.perf_counter() - t0) * 1000)
            total = time.perf_counter() - t_total
        finally:
            await app.updater.stop()
            await app.stop()
    echoes = [m["text"] for m in stub.messages_to(USER)]
    assert echoes == [f"回声：第{i}条" for i in range(20)]
    print(
        f"\napplication echo round trip over 20 messages: total {total * 1000:.0f} ms, "
        f"median {statistics.median(round_trips):.1f} ms, max {max(round_trips):.1f} ms"
    )
    assert total < 5
    assert statistics.median(round_trips) < 100
    assert stub.pending_updates == []  # the final getUpdates confirmed everything
