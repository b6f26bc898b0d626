"""Jobs: the watcher that reloads the knowledge base when its folder changes, and the
daily digest to admins."""

from __future__ import annotations

import asyncio
import datetime
import logging

from telegram.constants import ParseMode
from telegram.error import TelegramError

from handlers.kb_admin import stats_text
from handlers.state import Context
from render import escape
from reportqa.models import ReportQAError

log = logging.getLogger(__name__)


async def digest(context: Context) -> None:
    """The daily summary for admins (JobQueue); with many workers, one of them sends it."""
    today = datetime.date.today()
    try:  # built before the day is claimed: a claimed digest is always sent
        text = "📊 每日摘要\n" + await asyncio.to_thread(stats_text, context)
    except ReportQAError as e:  # e.g. the database out of reach
        log.warning("no digest today: %s", e)
        return
    if not await asyncio.to_thread(context.bot_data.service.claim_digest, today):
        return
    for admin in sorted(context.bot_data.settings.admin_ids):
        try:
            await context.bot.send_message(admin, text, parse_mode=ParseMode.HTML)
        except TelegramError as e:
            log.warning("could not send the digest to %s: %s", admin, e)


async def watch(context: Context) -> None:
    """Notice changes to the knowledge folder (shell commands, hand edits, git pull) and swap
    in the new knowledge base; a broken edit is reported to the admins, the old one serves."""
    live = context.bot_data.live
    if not live.changed_on_disk():
        return
    result = await asyncio.to_thread(live.reload)
    if not result.problems:
        return
    text = "⚠️ 知识库文件被修改，但有错误，仍在使用上一个版本：\n" + escape(
        "\n".join(result.problems[:8])
    )
    for admin in sorted(context.bot_data.settings.admin_ids):
        try:
            await context.bot.send_message(admin, text, parse_mode=ParseMode.HTML)
        except TelegramError as e:
            log.warning("could not tell admin %s: %s", admin, e)
