"""The one error handler: log the exception (never the token), apologise briefly."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import TelegramError

from handlers.state import Context
from reportqa.db.schema import DatabaseError

log = logging.getLogger(__name__)
SORRY = "抱歉，处理您的消息时出了点问题，请稍后再试。"
DATABASE_DOWN = "抱歉，数据库暂时无法连接，请稍后再试（提问不受影响）。"


async def on_error(update: object, context: Context) -> None:
    """Log first, then tell the user (if there is one) that something went wrong."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s", update_id, exc_info=context.error)
    if not isinstance(update, Update):
        return
    sorry = DATABASE_DOWN if isinstance(context.error, DatabaseError) else SORRY
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer(sorry, show_alert=True)
        return
    chat = update.effective_chat
    if chat is None:
        return
    try:
        await context.bot.send_message(chat.id, sorry)
    except TelegramError as e:  # the network may be what failed; the log has the cause
        log.warning("could not apologise to chat %s: %s", chat.id, e)
