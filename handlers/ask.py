"""Questions: private messages, /ask, group mentions and replies, result buttons, inline mode.

Each handler: parse the update, call the chat service, render, reply. The engine runs in a
worker thread so the event loop keeps serving other chats; handlers.reply shows the typing
indicator when an answer takes long and sends the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import (
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import filters

import chat
import render
from chat import FIRST_RESULTS
from handlers import callbacks, views
from handlers.reply import NO_PREVIEW, send, typing
from handlers.state import Context
from render import escape

log = logging.getLogger(__name__)
TOO_FAST = "您提问太快了，请稍等片刻再问（每分钟最多 {limit} 个问题）。"
EXPIRED = "这个按钮已过期，请重新提问。"
GONE = "这段内容已更新或删除，请重新提问。"
USAGE = "用法：/ask 问题，例如 /ask 舟山市科技局2020年公开了多少条政府信息？"


class AddressedToBot(filters.MessageFilter):
    """Group messages meant for the bot: they mention it or reply to one of its messages."""

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        reply = message.reply_to_message
        if reply and reply.from_user and reply.from_user.id == bot.id:
            return True
        mention = f"@{bot.username}".lower()
        entities = message.parse_entities([MessageEntity.MENTION])
        return any(text.lower() == mention for text in entities.values())


async def on_private_text(update: Update, context: Context) -> None:
    message = update.effective_message
    if message and message.text:
        await answer_message(message, context, message.text)


async def on_group_text(update: Update, context: Context) -> None:
    message = update.effective_message
    if message and message.text:
        text = message.text.replace(f"@{context.bot.username}", " ").strip()
        if text:
            await answer_message(message, context, text)


async def on_ask_command(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    text = " ".join(context.args or []).strip()
    if not text:
        await send(message, USAGE)
        return
    await answer_message(message, context, text)


async def answer_message(
    message: Message, context: Context, text: str, user_id: int | None = None
) -> None:
    """Answer `text` in the chat of `message`, within the user's rate limit."""
    service = context.bot_data.service
    if user_id is None:
        user_id = message.from_user.id if message.from_user else message.chat.id
    if not await asyncio.to_thread(service.allow, user_id):
        await send(message, TOO_FAST.format(limit=service.limiter.limit))
        return
    kind = chat.classify(text)
    if kind == "help":  # 「帮助」 is a request, not a question about 帮助
        await send(message, render.HELP)
        return
    if kind == "chitchat":
        examples = service.examples(1)
        await send(message, escape(render.CHITCHAT.format(example=examples[0] if examples else "")))
        return
    async with typing(context, message.chat.id):
        reply = await asyncio.to_thread(service.ask, message.chat.id, user_id, text, FIRST_RESULTS)
    await send(message, views.answer_text(reply), views.answer_keyboard(reply))


async def on_more(update: Update, context: Context) -> None:
    """更多结果 / 返回答案: show result i of a question."""
    query = update.callback_query
    assert query is not None and query.data
    qid, index = callbacks.parse_more(query.data)
    reply = await asyncio.to_thread(context.bot_data.service.again, qid)
    if reply is None or not reply.answer.hits:
        await query.answer(EXPIRED, show_alert=True)
        return
    if index >= len(reply.answer.hits):
        await query.answer("没有更多结果了。")
        return
    await query.answer()
    with contextlib.suppress(TelegramError):  # unchanged text is not an error here
        await query.edit_message_text(
            views.answer_text(reply, index),
            parse_mode=ParseMode.HTML,
            reply_markup=views.answer_keyboard(reply, index),
            link_preview_options=NO_PREVIEW,
        )


async def on_open(update: Update, context: Context) -> None:
    """原文: the whole passage, also when the answer is gone (while the passage is known)."""
    query = update.callback_query
    assert query is not None and query.data
    found = callbacks.find_passage(context.bot_data.service.engine.kb, callbacks.arg(query.data))
    if found is None:
        await query.answer(GONE, show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await send(query.message, render.passage_html(*found))


async def on_vote(update: Update, context: Context) -> None:
    """👍 / 👎 on an answer."""
    query = update.callback_query
    assert query is not None and query.data
    up, qid = callbacks.parse_vote(query.data)
    vote = "up" if up else "down"
    service = context.bot_data.service
    ok = await asyncio.to_thread(service.record_feedback, qid, query.from_user.id, vote)
    await query.answer("感谢您的反馈！" if ok else EXPIRED)


async def on_ask_button(update: Update, context: Context) -> None:
    """A stored question's button (examples, nearest topics): ask it."""
    query = update.callback_query
    assert query is not None and query.data
    asked = await asyncio.to_thread(context.bot_data.service.question, callbacks.arg(query.data))
    if asked is None or not isinstance(query.message, Message):
        await query.answer(EXPIRED, show_alert=True)
        return
    await query.answer()
    await answer_message(query.message, context, asked, query.from_user.id)


async def on_unknown_button(update: Update, context: Context) -> None:
    """Every button press is answered, also one no handler knows (an old keyboard)."""
    if update.callback_query is not None:
        await update.callback_query.answer()


async def on_inline_query(update: Update, context: Context) -> None:
    """@BotName 问题 in any chat: up to five results to insert."""
    query = update.inline_query
    if query is None:
        return
    text = query.query.strip()
    service = context.bot_data.service
    if not text or not await asyncio.to_thread(service.allow, query.from_user.id):
        await query.answer([], cache_time=5)
        return
    reply = await asyncio.to_thread(service.answer, text, None, 5)
    results = _inline_results(reply)
    await query.answer(results, cache_time=60)


def _inline_results(reply: chat.Reply) -> list[InlineQueryResultArticle]:
    """Up to five answers to insert, or one saying there is none."""
    if not reply.answer.answered:
        lay = render.layout(reply.answer)
        content = InputTextMessageContent(render.html_layout(lay), parse_mode=ParseMode.HTML)
        return [
            InlineQueryResultArticle(
                id=f"{reply.qid}-none",
                title="现有报告中没有找到答案",
                description=lay.no_answer[:120],
                input_message_content=content,
            )
        ]
    return [
        InlineQueryResultArticle(
            id=f"{reply.qid}-{i}",
            title=hit.sentence[:80],
            description=render.source_line(hit)[:120],
            input_message_content=InputTextMessageContent(
                views.answer_text(reply, i),
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
            ),
        )
        for i, hit in enumerate(reply.answer.hits[:5])
    ]
