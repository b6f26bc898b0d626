"""Telegram glue: every handler is registered here, in one place."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from commands import ADMIN_COMMANDS, USER_COMMANDS, Command
from handlers import admin, ask, browse, dialogue, errors, facts, jobs, kb_admin, upload
from handlers import callbacks as cb

_MODULES = {"ask": ask, "browse": browse, "facts": facts, "kb_admin": kb_admin}

WATCH_INTERVAL = 2.0  # seconds between looks at the knowledge folder
DIGEST_TIME = datetime.time(9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def handler_of(command: Command):  # type: ignore[no-untyped-def]
    """The callback a command table entry names ("browse.on_start")."""
    module, function = command.handler.split(".")
    return getattr(_MODULES[module], function)


def register(app: Application, admin_ids: frozenset[int]) -> None:  # type: ignore[type-arg]
    """Add all handlers and jobs.

    Group -1 runs first: an admin's text that answers an open admin dialogue (correcting an
    upload, /addfact step by step) is consumed there and stops further handling; any other
    text falls through to group 0. In group 0 order matters: commands, then button presses,
    then documents, then plain text (private chats: any text is a question; groups: only
    messages addressed to the bot, so other chatter is ignored). The error handler is last.
    """
    admins = filters.User(user_id=admin_ids, allow_empty=False)
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(text & admins, dialogue.on_admin_text), group=-1)

    for command in USER_COMMANDS:
        app.add_handler(CommandHandler(command.name, handler_of(command)))
    # Admin work (saving, reloading the index, reading an upload) can take seconds: those
    # handlers run with block=False, so other chats' updates are handled meanwhile.
    for command in ADMIN_COMMANDS:  # admins only (checked again inside)
        blocking = command.name == "addfact"  # its dialogue is open before the next message
        app.add_handler(
            CommandHandler(command.name, handler_of(command), filters=admins, block=blocking)
        )
    everyone_else = [c.name for c in ADMIN_COMMANDS]
    app.add_handler(CommandHandler(everyone_else, admin.refuse))
    for callback, pattern in (  # one handler a kind of button (handlers.callbacks)
        (ask.on_more, cb.pattern(cb.MORE)),
        (ask.on_open, cb.pattern(cb.OPEN)),
        (ask.on_vote, cb.pattern(cb.VOTE)),
        (ask.on_ask_button, cb.pattern(cb.ASK)),
        (browse.on_page, cb.pattern(cb.AGENCY_PAGE, cb.REPORT_PAGE)),
        (browse.on_choose_agency, cb.pattern(cb.AGENCY)),
        (browse.on_choose_report, cb.pattern(cb.REPORT)),
    ):
        app.add_handler(CallbackQueryHandler(callback, pattern=pattern))
    for callback, pattern in (  # admin buttons: saving can take seconds (block=False)
        (upload.on_upload_confirm, cb.admin_pattern(cb.CONFIRM)),
        (upload.on_upload_cancel, cb.admin_pattern(cb.DISCARD)),
        (upload.on_upload_fix, cb.admin_pattern(cb.FIX)),
        (upload.on_upload_field, cb.admin_pattern(cb.FIELD)),
        (kb_admin.on_remove_ask, cb.admin_pattern(cb.REMOVE)),
        (kb_admin.on_remove_confirm, cb.admin_pattern(cb.REMOVE_CONFIRMED)),
        (kb_admin.on_cancel_button, cb.admin_pattern(cb.CANCEL_ACTION)),
    ):
        app.add_handler(CallbackQueryHandler(callback, pattern=pattern, block=False))
    app.add_handler(CallbackQueryHandler(ask.on_unknown_button))  # still answered
    app.add_handler(InlineQueryHandler(ask.on_inline_query))
    app.add_handler(MessageHandler(private & filters.Document.ALL, upload.on_document, block=False))
    app.add_handler(MessageHandler(private & text, ask.on_private_text))
    app.add_handler(
        MessageHandler(filters.ChatType.GROUPS & text & ask.AddressedToBot(), ask.on_group_text)
    )
    app.add_error_handler(errors.on_error)

    if app.job_queue is not None:
        app.job_queue.run_repeating(jobs.watch, interval=WATCH_INTERVAL, first=WATCH_INTERVAL)
        if admin_ids:
            app.job_queue.run_daily(jobs.digest, time=DIGEST_TIME)
