"""Admin plumbing shared by the admin rooms: who is an admin, the refusal everyone else gets,
the admin-command wrapper, and how a knowledge change is committed and the live knowledge base
reloaded.

Admins are the user ids in BOT_ADMIN_IDS. Their commands are registered with a user filter
and every handler checks again before it acts; anyone else gets a short refusal, nothing
changes, and the attempt is logged. All changes go through the Repository (validated, locked,
atomic, with history and audit), then the live knowledge base is reloaded, so questions use the
change at once. The rooms: upload.py (document -> preview -> confirm / correct / cancel),
facts.py (/addfact, /facts, /delfact), kb_admin.py (removal, reload, undo, history, stats),
dialogue.py (an admin's text that answers an open dialogue), jobs.py (watcher, digest).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from handlers import callbacks
from handlers.reply import send
from handlers.state import Context
from render import escape
from reportqa.ingest import IngestFailed
from reportqa.kb.repository import ChangeRejected
from reportqa.sandbox import LimitExceeded

log = logging.getLogger(__name__)
REFUSAL = "抱歉，只有管理员可以使用这个功能。"


def is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in context.bot_data.settings.admin_ids


async def refuse(update: Update, context: Context) -> None:
    """Anyone else trying an admin command or upload: a short refusal, and a log line that
    says what was tried (the button's data, the file's name or the command)."""
    user = update.effective_user
    message = update.effective_message
    if update.callback_query:
        what = f"button {update.callback_query.data!r}"
    elif message is not None and message.document is not None:
        what = f"upload {message.document.file_name!r}"
    else:
        what = repr(message.text if message is not None else None)
    log.warning("refused admin action from user %s: %s", user.id if user else None, what)
    if update.callback_query:
        await update.callback_query.answer(REFUSAL, show_alert=True)
    elif update.effective_message:
        await send(update.effective_message, REFUSAL)


T = TypeVar("T")


AdminHandler = Callable[[Update, Context, Message], Awaitable[None]]


def admin_command(handler: AdminHandler) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """An admin command: registered for admins only, and checked again here before it acts;
    anyone else is refused (and logged)."""

    @functools.wraps(handler)
    async def checked(update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None:
            return
        if not is_admin(update, context):
            await refuse(update, context)
            return
        await handler(update, context, message)

    return checked


def actor(update: Update) -> str:
    user = update.effective_user
    return f"telegram:{user.id}" if user else "telegram"


async def commit(
    context: Context,
    say: Callable[[str], Awaitable[None]],
    work: Callable[[], T],
    done: Callable[[T], str],
    failed: str = "❌ 未保存",
) -> None:
    """Run a knowledge change off the event loop, reload the live knowledge base, and say
    how it went (the change's own message, or why nothing was saved)."""
    try:
        result = await asyncio.to_thread(work)
    except (ChangeRejected, IngestFailed, LimitExceeded) as e:
        await say(f"{failed}：{escape(str(e))}")
        return
    note = await reload_kb(context)
    await say(done(result) + note)


async def commit_and_edit(
    context: Context,
    message: Message,
    work: Callable[[], T],
    done: Callable[[T], str],
    failed: str = "❌ 未保存",
) -> None:
    """commit(), saying how it went in place of the message whose button was pressed."""
    await commit(context, functools.partial(edit_or_send, message), work, done, failed)


async def reload_kb(context: Context) -> str:
    result = await asyncio.to_thread(context.bot_data.live.reload, True)
    if result.problems:
        return "\n⚠️ 知识库重新加载失败，仍在使用上一个版本：\n" + escape(
            "\n".join(result.problems[:5])
        )
    return ""


async def admin_press(update: Update, context: Context) -> tuple[list[str], Message] | None:
    """An admin button's arguments and message (its action chose the handler); None
    (answered or refused) when the presser is no admin or the message is gone."""
    query = update.callback_query
    assert query is not None and query.data
    if not is_admin(update, context):
        await refuse(update, context)
        return None
    if not isinstance(query.message, Message):
        await query.answer()
        return None
    _, args = callbacks.parse_admin(query.data)
    return args, query.message


async def edit_or_send(message: Message, text: str) -> None:
    try:
        await message.edit_text(text, parse_mode=ParseMode.HTML)
    except TelegramError:  # the message may be gone or unchanged: say it anew
        await send(message, text)
