"""An admin's text that answers an open admin dialogue: the correction of an upload's field,
or /addfact step by step. It runs before the question handler and stops further handling when
it consumed the text; with no dialogue open the text is a question as usual. Dialogues are
kept in the admin steps (reportqa.steps), shared by every worker with DATABASE_URL."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers.admin import is_admin
from handlers.facts import addfact_step
from handlers.state import Context
from handlers.upload import correction


async def on_admin_text(update: Update, context: Context) -> None:
    """Steps of admin dialogues. Runs before the question handler; when no dialogue is open
    it does nothing and the text is a question as usual."""
    message = update.effective_message
    user = update.effective_user
    if message is None or not message.text or user is None or not is_admin(update, context):
        return
    dialogue = await asyncio.to_thread(context.bot_data.steps.dialogue, message.chat.id, user.id)
    if dialogue is None:
        return
    text = message.text.strip()
    if dialogue.get("kind") == "editing":
        await correction(update, message, context, text, dialogue)
    else:
        await addfact_step(update, message, context, text, dialogue)
    raise ApplicationHandlerStop
