"""Build the Telegram Application: settings, rate limiting, typed bot_data, handlers, menus."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from chat import ChatService
from config import Settings
from handlers import register
from handlers.state import BotData

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "callback_query", "inline_query"]
COMMANDS = [
    BotCommand("start", "简介和示例问题"),
    BotCommand("help", "怎么提问"),
    BotCommand("ask", "提问（群组中使用）"),
    BotCommand("agencies", "按机构浏览和限定"),
    BotCommand("reports", "按报告浏览和限定"),
    BotCommand("all", "取消限定，查全部报告"),
]
ADMIN_COMMANDS: list[BotCommand] = []  # the admin tools add theirs here


def build_application(settings: Settings, service: ChatService) -> Application:  # type: ignore[type-arg]
    """The bot, ready to run_polling() or run_webhook()."""
    assert settings.token is not None
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{settings.api_base_url}/bot")
        .base_file_url(f"{settings.api_base_url}/file/bot")
        .context_types(ContextTypes(bot_data=BotData))
        .post_init(_post_init)
    )
    if settings.flood_limit > 0:  # Telegram's own limits: ~30 messages a second per bot
        limiter = AIORateLimiter(overall_max_rate=settings.flood_limit, max_retries=3)
        builder = builder.rate_limiter(limiter)  # type: ignore[arg-type]
    app = builder.build()
    app.bot_data.attach(service, settings)
    register(app)
    return app


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    """Set the command menus: everyone's, and the admins' own scope."""
    settings: Settings = app.bot_data.settings
    try:
        await app.bot.set_my_commands(COMMANDS, scope=BotCommandScopeDefault())
    except TelegramError as e:
        log.warning("could not set the command menu: %s", e)
    for admin in sorted(settings.admin_ids):
        try:
            await app.bot.set_my_commands(
                COMMANDS + ADMIN_COMMANDS, scope=BotCommandScopeChat(admin)
            )
        except TelegramError as e:  # e.g. the admin never started a chat with the bot
            log.warning("could not set the admin menu for %s: %s", admin, e)
    log.info("bot @%s ready", app.bot.username)
