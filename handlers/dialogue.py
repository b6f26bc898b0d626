"""An admin's text that answers an open correction of an upload's field. It runs before the
question handler and stops further handling when it consumed the text; with no correction
open the text is a question as usual. (/addfact is a ConversationHandler of its own:
facts.addfact_dialogue.)"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers.admin import is_admin
from handlers.state import Context
from handlers.upload import correction


async def on_admin_text(update: Update, context: Context) -> None:
    """Steps of admin dialogues (correcting an upload, /addfact). Runs before the question
    handler; when no dialogue is open it does nothing and the text is a question as usual."""
    message = update.effective_message
    if message is None or not message.text or not is_admin(update, context):
        return
    chat_data = context.chat_data
    if chat_data is None:
        return
    text = message.text.strip()
    if "editing" in chat_data:
        await correction(update, message, context, text)
        raise ApplicationHandlerStop
