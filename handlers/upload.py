"""Uploads: a document -> a preview (in the sandbox, off the event loop) -> 确认入库 / 修改信息
(one field, then a new preview) / 取消. Only the admin who uploaded a file decides on it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from handlers import callbacks
from handlers.admin import actor, admin_press, commit_and_edit, edit_or_send, is_admin, refuse
from handlers.reply import send, typing
from handlers.state import Context
from render import escape
from reportqa.ingest import IngestFailed, Overrides
from reportqa.kb import changes
from reportqa.kb.changes import Prepared
from reportqa.models import Report
from reportqa.sandbox import LimitExceeded
from reportqa.steps import Dialogue, PendingUpload

log = logging.getLogger(__name__)
MAX_UPLOAD = 20 * 1024 * 1024
NOT_YOURS = "这是另一位管理员上传的文件，只有上传者可以确认、修改或取消。"
FIELDS = {"agency": "机构全称", "year": "年份", "title": "标题", "doc_type": "文件类型"}


async def on_document(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.document is None:
        return
    if not is_admin(update, context):
        await refuse(update, context)
        return
    doc = message.document
    name = changes.safe_name(doc.file_name or "upload.txt")
    if doc.file_size is not None and doc.file_size > MAX_UPLOAD:  # checked before downloading
        await send(message, f"文件 {escape(name)} 超过 20 MB，无法处理。请压缩图片或拆分后再发送。")
        return
    try:
        file = await doc.get_file()
        data = bytes(await file.download_as_bytearray())
    except TelegramError as e:
        await send(message, f"下载文件失败（{escape(str(e))}），请重新发送。")
        return
    if len(data) > MAX_UPLOAD:
        await send(message, f"文件 {escape(name)} 超过 20 MB，无法处理。")
        return
    user = update.effective_user
    await preview(message, context, data, name, {}, user.id if user else message.chat.id)


async def preview(
    message: Message,
    context: Context,
    data: bytes,
    name: str,
    flags: dict[str, Any],
    admin: int,
    replaces: str | None = None,
) -> None:
    """Extract and ingest the file in the sandbox (time and memory limits, another process:
    questions are answered meanwhile) and show the preview with its buttons; the preview it
    `replaces` (a correction's) goes once this one is kept."""
    bot_data = context.bot_data
    try:
        async with typing(context, message.chat.id):
            prepare = functools.partial(changes.prepare_upload, data, name, bot_data.repo)
            prepared = await asyncio.to_thread(prepare, Overrides(**flags), bot_data.sandbox)
    except (IngestFailed, LimitExceeded) as e:
        await send(message, f"❌ 无法导入：{escape(str(e))}\n知识库没有任何改动。")
        return
    steps = bot_data.steps
    await asyncio.to_thread(steps.expire)
    token = secrets.token_hex(4)
    upload = PendingUpload(prepared, data, name, admin, flags)
    await asyncio.to_thread(steps.put_upload, token, upload)
    if replaces is not None:
        await asyncio.to_thread(steps.drop_upload, replaces)
    await send(
        message,
        preview_text(prepared, bot_data.live.engine.kb.report(prepared.report.report_id)),
        _preview_keyboard(token),
    )


def preview_text(prepared: Prepared, old: Report | None) -> str:
    r = prepared.report
    sections = {p.section[:2] for p in r.passages if p.section}
    lines = [
        "<b>导入预览</b>",
        f"机构：{escape(r.agency or '（未识别）')}",
        f"标题：{escape(r.title or '（未识别）')}"
        + ("（据机构、年份、类型推定）" if r.title and "title" in prepared.needs_flag else ""),
        f"年份：{r.year or '（未识别）'}　类型：{escape(r.doc_type or '（未识别）')}",
        f"章节 {len(sections)} 个，段落 {len(r.passages)} 段",
        f"报告ID：<code>{escape(r.report_id)}</code>",
    ]
    if prepared.needs_flag:
        names = "、".join(FIELDS.get(f, f) for f in prepared.needs_flag)
        lines.append(f"⚠️ 未能识别：{names}（可点「修改信息」补充）")
        if "agency" in prepared.needs_flag:
            lines.append("不补充机构也可以入库：回答时以报告标题注明来源。")
    if old is not None:
        d = changes.diff(old, r)
        lines.append(
            f"🔁 这是已有报告的新版本：新增 {d.added} 段，删除 {d.removed} 段，"
            f"修改 {d.changed} 段。确认后将替换旧版本。"
            if not d.empty
            else "🔁 与知识库中的版本相同。"
        )
    samples = [p for p in r.passages if p.section[:1] != ("文件信息",)][:2]
    for p in samples:
        lines.append(f"<blockquote>{escape(p.text[:160])}</blockquote>")
    return "\n".join(lines)


def _preview_keyboard(token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "确认入库", callback_data=callbacks.upload(callbacks.CONFIRM, token)
                ),
                InlineKeyboardButton(
                    "修改信息", callback_data=callbacks.upload(callbacks.FIX, token)
                ),
                InlineKeyboardButton(
                    "取消", callback_data=callbacks.upload(callbacks.DISCARD, token)
                ),
            ]
        ]
    )


@dataclass
class _Press:
    query: CallbackQuery
    args: list[str]  # token, field
    message: Message
    upload: PendingUpload | None  # when taken out


async def _pressed(update: Update, context: Context, take: bool = False) -> _Press | None:
    """A press on a pending upload's button by the admin who uploaded it (the upload taken
    out of the pending ones when `take`: by one press only, on whichever worker); None once
    the press is answered otherwise (not an admin, an expired preview, another admin's
    upload, a preview another press has taken)."""
    pressed = await admin_press(update, context)
    query = update.callback_query
    if pressed is None or query is None:
        return None
    args, message = pressed
    steps = context.bot_data.steps
    owner = await asyncio.to_thread(steps.owner, args[0])
    if owner is None:
        await query.answer("这个预览已过期，请重新发送文件。", show_alert=True)
        return None
    if owner != query.from_user.id:  # another admin's upload is theirs to decide
        log.warning(
            "admin %s pressed %r on admin %s's upload", query.from_user.id, query.data, owner
        )
        await query.answer(NOT_YOURS, show_alert=True)
        return None
    upload = await asyncio.to_thread(steps.take_upload, args[0]) if take else None
    if take and upload is None:  # another press took it meanwhile
        await query.answer("这个预览已经处理过了。", show_alert=True)
        return None
    return _Press(query, args, message, upload)


async def on_upload_confirm(update: Update, context: Context) -> None:
    """确认入库: save the previewed report."""
    if (press := await _pressed(update, context, take=True)) is None:
        return
    await press.query.answer("正在保存…")
    assert press.upload is not None
    prepared, r = press.upload.prepared, press.upload.prepared.report
    await commit_and_edit(
        context,
        press.message,
        functools.partial(changes.save_report, context.bot_data.repo, prepared, actor(update)),
        lambda change: (
            f"✅ 已入库：{escape(r.agency)}《{escape(r.title or r.source_file)}》"
            f"（{len(r.passages)} 段，改动 #{change.seq}，可用 /undo 撤销）。现在提问即可使用。"
        ),
    )


async def on_upload_cancel(update: Update, context: Context) -> None:
    """取消: drop the preview; nothing changes."""
    if (press := await _pressed(update, context, take=True)) is not None:
        await press.query.answer("已取消")
        await edit_or_send(press.message, "已取消导入，知识库没有任何改动。")


async def on_upload_fix(update: Update, context: Context) -> None:
    """修改信息: one button a field that can be corrected."""
    if (press := await _pressed(update, context)) is None:
        return
    await press.query.answer()
    token = press.args[0]
    rows = [
        [
            InlineKeyboardButton(
                f"修改{label}", callback_data=callbacks.upload(callbacks.FIELD, token, key)
            )
        ]
        for key, label in FIELDS.items()
    ]
    await press.message.edit_reply_markup(InlineKeyboardMarkup(rows))


async def on_upload_field(update: Update, context: Context) -> None:
    """修改<field>: ask for the new value (dialogue.py takes the answer)."""
    if (press := await _pressed(update, context)) is None:
        return
    await press.query.answer()
    token, key = press.args
    if key in FIELDS:
        editing = {
            "kind": "editing",
            "token": token,
            "field": key,
            "message": press.message.message_id,  # the preview, its buttons back on 取消
        }
        chat, admin = press.message.chat.id, press.query.from_user.id
        await asyncio.to_thread(context.bot_data.steps.set_dialogue, chat, admin, editing)
        await send(press.message, f"请发送新的{FIELDS[key]}（发送“取消”放弃修改）：")


async def correction(
    update: Update, message: Message, context: Context, text: str, dialogue: Dialogue
) -> None:
    """The new value of the field being corrected (修改<field>): a new preview, in the
    background (the old one stays until it is shown); 取消 gives up, a bad year is asked
    again."""
    token, key = str(dialogue["token"]), str(dialogue["field"])
    steps = context.bot_data.steps
    admin = update.effective_user.id if update.effective_user else 0
    if key == "year" and text != "取消" and not _year(text):
        await send(message, "年份应为四位数字，例如 2021，请重新发送：")
        return  # the dialogue stays open
    if not await asyncio.to_thread(steps.advance, message.chat.id, admin, dialogue, None):
        return  # another message of the admin's closed it meanwhile
    if text == "取消":  # the preview gets its buttons back: it can still be confirmed
        with contextlib.suppress(TelegramError):
            await context.bot.edit_message_reply_markup(
                message.chat.id,
                int(dialogue.get("message", 0)),
                reply_markup=_preview_keyboard(token),
            )
        await send(message, "已放弃修改。")
        return
    upload = await asyncio.to_thread(steps.upload, token)
    if upload is None:
        await send(message, "这个预览已过期，请重新发送文件。")
        return
    flags = dict(upload.flags)
    flags[key] = int(text) if key == "year" else text
    again = preview(message, context, upload.data, upload.name, flags, upload.admin, token)
    context.application.create_task(again, update=update)  # slow: not in the way


def _year(text: str) -> bool:
    return text.isascii() and text.isdigit() and 1949 <= int(text) <= 2100
