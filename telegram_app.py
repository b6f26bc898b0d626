"""Build the Telegram Application: settings, rate limiting, typed bot_data, handlers, menus."""

from __future__ import annotations

import asyncio
import logging
import signal

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

import commands
from chat import ChatService
from config import Settings
from handlers import register
from handlers.state import BotData
from reportqa.kb.changes import warm_up
from reportqa.kb.live import LiveKnowledge
from reportqa.models import ReportQAError
from reportqa.sandbox import Sandbox
from reportqa.steps import Steps

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "callback_query", "inline_query"]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGABRT)  # PTB's own defaults
COMMANDS = [BotCommand(c.name, c.menu) for c in commands.USER_COMMANDS]
ADMIN_COMMANDS = [BotCommand(c.name, c.menu) for c in commands.ADMIN_COMMANDS]


def build_application(
    settings: Settings,
    service: ChatService,
    live: LiveKnowledge,
    sandbox: Sandbox | None = None,
    steps: Steps | None = None,
) -> Application:  # type: ignore[type-arg]
    """The bot, ready to run_polling() or run_webhook(); uploads are read in `sandbox`; admin
    work under way is kept in `steps` (None: in this process)."""
    assert settings.token is not None
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{settings.api_base_url}/bot")
        .base_file_url(f"{settings.api_base_url}/file/bot")
        .context_types(ContextTypes(bot_data=BotData))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if settings.flood_limit > 0:  # Telegram's own limits: ~30 messages a second per bot
        limiter = AIORateLimiter(overall_max_rate=settings.flood_limit, max_retries=3)
        builder = builder.rate_limiter(limiter)  # type: ignore[arg-type]
    app = builder.build()
    app.bot_data.attach(service, settings, live, sandbox, steps)
    register(app, settings.admin_ids)
    return app


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    """Stop promptly on a signal; warm the upload sandbox; set the command menus: everyone's,
    and the admins' own scope."""
    settings: Settings = app.bot_data.settings
    sandbox: Sandbox | None = app.bot_data.sandbox
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:  # replaces PTB's handler, which would wait for an upload to end
        loop.add_signal_handler(sig, _stop, app)
    if sandbox is not None:
        app.create_task(asyncio.to_thread(_warm, sandbox), name="warm-sandbox")
    try:
        await app.bot.set_my_commands(COMMANDS, scope=BotCommandScopeDefault())
    except TelegramError as e:
        log.warning("could not set the command menu: %s", e)
    for admin_id in sorted(settings.admin_ids):
        try:
            await app.bot.set_my_commands(
                COMMANDS + ADMIN_COMMANDS, scope=BotCommandScopeChat(admin_id)
            )
        except TelegramError as e:  # e.g. the admin never started a chat with the bot
            log.warning("could not set the admin menu for %s: %s", admin_id, e)
    log.info("bot @%s ready", app.bot.username)


def _stop(app: Application) -> None:  # type: ignore[type-arg]
    """A stop signal: end an upload being read (its admin is told), then stop as PTB does."""
    log.info("stop signal received, shutting down")
    sandbox: Sandbox | None = app.bot_data.sandbox
    if sandbox is not None:
        sandbox.close()
    app.stop_running()


def _warm(sandbox: Sandbox) -> None:
    try:
        sandbox.start(warm_up)
    except ReportQAError as e:  # closed while starting: the bot is stopping
        log.debug("upload sandbox not started: %s", e)


async def _post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    sandbox: Sandbox | None = app.bot_data.sandbox
    if sandbox is not None:
        sandbox.close()
