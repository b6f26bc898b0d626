"""Telegram glue: every handler is registered here, in one place."""

from __future__ import annotations

from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from handlers import ask, browse, errors


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add all handlers. Order matters within the default group: commands first, then button
    presses, then plain text (private chats: any text is a question; groups: only messages
    addressed to the bot, so other chatter is ignored). The error handler comes last."""
    app.add_handler(CommandHandler("start", browse.on_start))
    app.add_handler(CommandHandler("help", browse.on_help))
    app.add_handler(CommandHandler("ask", ask.on_ask_command))
    app.add_handler(CommandHandler("agencies", browse.on_agencies))
    app.add_handler(CommandHandler("reports", browse.on_reports))
    app.add_handler(CommandHandler("all", browse.on_all))
    app.add_handler(CallbackQueryHandler(ask.on_button, pattern=r"^[mofq]\|"))
    app.add_handler(CallbackQueryHandler(browse.on_browse_button, pattern=r"^[aArR]\|"))
    app.add_handler(CallbackQueryHandler(ask.on_button))  # unknown buttons are still answered
    app.add_handler(InlineQueryHandler(ask.on_inline_query))
    text = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & text, ask.on_private_text))
    app.add_handler(
        MessageHandler(filters.ChatType.GROUPS & text & ask.AddressedToBot(), ask.on_group_text)
    )
    app.add_error_handler(errors.on_error)
