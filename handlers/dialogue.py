"""An admin's text that answers an open dialogue (correcting an upload's field, a step of
/addfact). It runs before the question handler and stops further handling when it consumed
the text; with no dialogue open the text is a question as usual."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from handlers.admin import is_admin
from handlers.ask import send
from handlers.facts import addfact_step
from handlers.state import Context
from handlers.upload import preview


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
        token, key = chat_data.pop("editing")
        upload = context.bot_data.pending.pop(token, None)
        if text == "取消" or upload is None:
            await send(message, "已放弃修改。" if upload else "这个预览已过期，请重新发送文件。")
            raise ApplicationHandlerStop
        flags = dict(upload.flags)
        if key == "year":
            if not (text.isdigit() and 1949 <= int(text) <= 2100):
                context.bot_data.pending[token] = upload
                chat_data["editing"] = (token, key)
                await send(message, "年份应为四位数字，例如 2021，请重新发送：")
                raise ApplicationHandlerStop
            flags[key] = int(text)
        else:
            flags[key] = text
        again = preview(message, context, upload.data, upload.name, flags, upload.admin)
        context.application.create_task(again, update=update)  # slow: not in the way
        raise ApplicationHandlerStop
    if "addfact" in chat_data:
        await addfact_step(update, message, context, text)
        raise ApplicationHandlerStop
