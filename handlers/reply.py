"""Replying: HTML split below Telegram's limit with network errors retried, and the typing
indicator, shown only when the work takes longer than TYPING_DELAY (most answers take a few
milliseconds). Every handler room replies through here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from telegram import LinkPreviewOptions, Message
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut

import render
from handlers.state import Context

log = logging.getLogger(__name__)
TYPING_DELAY = 0.3  # seconds before the typing indicator is shown
SEND_RETRIES = 3
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@contextlib.asynccontextmanager
async def typing(context: Context, chat_id: int) -> AsyncIterator[None]:
    """Show 'typing…' if the block takes longer than TYPING_DELAY."""

    async def later() -> None:
        await asyncio.sleep(TYPING_DELAY)
        with contextlib.suppress(TelegramError):
            await context.bot.send_chat_action(chat_id, ChatAction.TYPING)

    task = asyncio.create_task(later())
    try:
        yield
    finally:
        task.cancel()


async def send(message: Message, html_text: str, markup: object = None) -> None:
    """Reply with HTML, split below Telegram's limit (buttons on the last part); network
    errors are retried, never fatal."""
    parts = render.split_html(html_text)
    for n, part in enumerate(parts):
        for attempt in range(SEND_RETRIES):
            try:
                await message.reply_text(
                    part,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup if n == len(parts) - 1 else None,  # type: ignore[arg-type]
                    link_preview_options=NO_PREVIEW,
                )
                break
            except BadRequest:
                raise  # a request Telegram refuses is not a network problem
            except (TimedOut, NetworkError) as e:
                if attempt + 1 == SEND_RETRIES:
                    raise
                log.warning("sending failed (%s), retrying", type(e).__name__)
                await asyncio.sleep(0.5 * 2**attempt)
