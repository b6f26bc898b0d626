"""Admin tools in the chat: upload reports, curate facts, remove, undo, reload, statistics.

Admins are the user ids in BOT_ADMIN_IDS. Their commands are registered with a user filter
and every handler checks again before it acts; anyone else gets a short refusal, nothing
changes, and the attempt is logged. All changes go through the Repository (validated, locked,
atomic, with history and audit), then the live knowledge base is reloaded, so questions use the
change at once.
Their buttons' callback data is handlers.callbacks'.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

import chat
from handlers import callbacks, views
from handlers.ask import send, typing
from handlers.state import Context
from render import escape
from reportqa import kbwrite
from reportqa.ingest import IngestFailed, Overrides
from reportqa.kbwrite import Prepared
from reportqa.models import Report
from reportqa.repository import ChangeRejected
from reportqa.sandbox import LimitExceeded

log = logging.getLogger(__name__)
MAX_UPLOAD = 20 * 1024 * 1024
PENDING_TTL = 3600  # seconds an upload waits for confirmation
REFUSAL = "抱歉，只有管理员可以使用这个功能。"
NOT_YOURS = "这是另一位管理员上传的文件，只有上传者可以确认、修改或取消。"
HISTORY_PAGE = 15  # changes per /history page
FIELDS = {"agency": "机构全称", "year": "年份", "title": "标题", "doc_type": "文件类型"}


@dataclass
class PendingUpload:
    prepared: Prepared
    data: bytes
    name: str
    admin: int
    flags: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)


def is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    return user is not None and user.id in context.bot_data.settings.admin_ids


async def refuse(update: Update, context: Context) -> None:
    """Anyone else trying an admin command or upload: a short refusal, and a log line that
    says what was tried (the button's data, the file's name or the command)."""
    user = update.effective_user
    message = update.effective_message
    if update.callback_query:
        what = f"button {update.callback_query.data!r}"
    elif message is not None and message.document is not None:
        what = f"upload {message.document.file_name!r}"
    else:
        what = repr(message.text if message is not None else None)
    log.warning("refused admin action from user %s: %s", user.id if user else None, what)
    if update.callback_query:
        await update.callback_query.answer(REFUSAL, show_alert=True)
    elif update.effective_message:
        await send(update.effective_message, REFUSAL)


T = TypeVar("T")
AdminHandler = Callable[[Update, Context, Message], Awaitable[None]]


def admin_command(handler: AdminHandler) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """An admin command: registered for admins only, and checked again here before it acts;
    anyone else is refused (and logged)."""

    @functools.wraps(handler)
    async def checked(update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None:
            return
        if not is_admin(update, context):
            await refuse(update, context)
            return
        await handler(update, context, message)

    return checked


def _actor(update: Update) -> str:
    user = update.effective_user
    return f"telegram:{user.id}" if user else "telegram"


async def _commit(
    context: Context,
    say: Callable[[str], Awaitable[None]],
    work: Callable[[], T],
    done: Callable[[T], str],
    failed: str = "❌ 未保存",
) -> None:
    """Run a knowledge change off the event loop, reload the live knowledge base, and say
    how it went (the change's own message, or why nothing was saved)."""
    try:
        result = await asyncio.to_thread(work)
    except (ChangeRejected, IngestFailed, LimitExceeded) as e:
        await say(f"{failed}：{escape(str(e))}")
        return
    note = await _reload(context)
    await say(done(result) + note)


async def _reload(context: Context) -> str:
    result = await asyncio.to_thread(context.bot_data.live.reload, True)
    if result.problems:
        return "\n⚠️ 知识库重新加载失败，仍在使用上一个版本：\n" + escape(
            "\n".join(result.problems[:5])
        )
    return ""


# ---------------------------------------------------------------- uploads


async def on_document(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.document is None:
        return
    if not is_admin(update, context):
        await refuse(update, context)
        return
    doc = message.document
    name = kbwrite.safe_name(doc.file_name or "upload.txt")
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
    await _preview(message, context, data, name, {}, user.id if user else message.chat.id)


async def _preview(
    message: Message,
    context: Context,
    data: bytes,
    name: str,
    flags: dict[str, Any],
    admin: int,
) -> None:
    """Extract and ingest the file in the sandbox (time and memory limits, another process:
    questions are answered meanwhile) and show the preview with its buttons."""
    bot_data = context.bot_data
    folder = bot_data.settings.knowledge_dir
    try:
        async with typing(context, message.chat.id):
            prepared = await asyncio.to_thread(
                kbwrite.prepare_upload, data, name, folder, Overrides(**flags), bot_data.sandbox
            )
    except (IngestFailed, LimitExceeded) as e:
        await send(message, f"❌ 无法导入：{escape(str(e))}\n知识库没有任何改动。")
        return
    bot_data.expire_uploads(PENDING_TTL)
    token = secrets.token_hex(4)
    bot_data.pending[token] = PendingUpload(prepared, data, name, admin, flags)
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
        d = kbwrite.diff(old, r)
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
                InlineKeyboardButton("确认入库", callback_data=callbacks.upload("ok", token)),
                InlineKeyboardButton("修改信息", callback_data=callbacks.upload("fix", token)),
                InlineKeyboardButton("取消", callback_data=callbacks.upload("no", token)),
            ]
        ]
    )


# ---------------------------------------------------------------- buttons


async def _admin_press(update: Update, context: Context) -> tuple[str, list[str], Message] | None:
    """An admin button's action, arguments and message; None (answered or refused) when the
    presser is no admin or the message is gone."""
    query = update.callback_query
    assert query is not None and query.data
    if not is_admin(update, context):
        await refuse(update, context)
        return None
    if not isinstance(query.message, Message):
        await query.answer()
        return None
    action, args = callbacks.parse_admin(query.data)
    return action, args, query.message


async def on_upload_button(update: Update, context: Context) -> None:
    """A pending upload's 确认入库 / 修改信息 / 取消, and the field to correct."""
    pressed = await _admin_press(update, context)
    if pressed is not None:
        action, args, message = pressed
        await _upload_action(update, context, message, action, args)


async def on_remove_button(update: Update, context: Context) -> None:
    """🗑 on a report (asks first) and 确认删除."""
    pressed = await _admin_press(update, context)
    if pressed is not None:
        action, args, message = pressed
        await _remove_action(update, context, message, action, args[0])


async def on_cancel_button(update: Update, context: Context) -> None:
    pressed = await _admin_press(update, context)
    if pressed is not None and update.callback_query is not None:
        await update.callback_query.answer("已取消")
        await _edit(pressed[2], "已取消。")


async def _upload_action(
    update: Update, context: Context, message: Message, action: str, args: list[str]
) -> None:
    query = update.callback_query
    assert query is not None
    token = args[0]
    upload = context.bot_data.pending.get(token)
    if upload is None:
        await query.answer("这个预览已过期，请重新发送文件。", show_alert=True)
    elif upload.admin != query.from_user.id:  # another admin's upload is theirs to decide
        log.warning(
            "admin %s pressed %r on admin %s's upload", query.from_user.id, query.data, upload.admin
        )
        await query.answer(NOT_YOURS, show_alert=True)
    elif action == "no":
        context.bot_data.pending.pop(token, None)
        await query.answer("已取消")
        await _edit(message, "已取消导入，知识库没有任何改动。")
    elif action == "fix":
        await query.answer()
        rows = [
            [
                InlineKeyboardButton(
                    f"修改{label}", callback_data=callbacks.upload("set", token, key)
                )
            ]
            for key, label in FIELDS.items()
        ]
        await message.edit_reply_markup(InlineKeyboardMarkup(rows))
    elif action == "set":
        await query.answer()
        if args[1] in FIELDS:
            context.chat_data["editing"] = (token, args[1])  # type: ignore[index]
            await send(message, f"请发送新的{FIELDS[args[1]]}（发送“取消”放弃修改）：")
    else:  # ok
        context.bot_data.pending.pop(token, None)
        await query.answer("正在保存…")
        r = upload.prepared.report
        save = functools.partial(
            kbwrite.save_report, context.bot_data.repo, upload.prepared, _actor(update)
        )
        await _commit(
            context,
            functools.partial(_edit, message),
            save,
            lambda change: (
                f"✅ 已入库：{escape(r.agency)}《{escape(r.title or r.source_file)}》"
                f"（{len(r.passages)} 段，改动 #{change.seq}，可用 /undo 撤销）。"
                "现在提问即可使用。"
            ),
        )


async def _remove_action(
    update: Update, context: Context, message: Message, action: str, key: str
) -> None:
    query = update.callback_query
    assert query is not None
    reports = context.bot_data.live.engine.kb.reports
    report = next((r for r in reports if views.short_key(r.report_id) == key), None)
    if report is None:
        await query.answer("该报告已不在知识库中。", show_alert=True)
        return
    await query.answer()
    if action == "del":  # ask first
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        "确认删除", callback_data=callbacks.remove_report(key, confirmed=True)
                    ),
                    InlineKeyboardButton("取消", callback_data=callbacks.CANCEL),
                ]
            ]
        )
        await send(
            message,
            f"确定删除 {escape(report.agency)}《{escape(report.title)}》"
            f"（{len(report.passages)} 段）吗？引用它的问答也会一并删除。",
            markup,
        )
        return
    remove = functools.partial(
        kbwrite.remove_report, context.bot_data.repo, report.report_id, _actor(update)
    )
    await _commit(
        context,
        functools.partial(_edit, message),
        remove,
        lambda change: (
            f"🗑 已删除 {escape(report.report_id)}（改动 #{change.seq}，可用 /undo 撤销）。"
        ),
        failed="❌ 未删除",
    )


async def _edit(message: Message, text: str) -> None:
    try:
        await message.edit_text(text, parse_mode=ParseMode.HTML)
    except TelegramError:  # the message may be gone or unchanged: say it anew
        await send(message, text)


# ---------------------------------------------------------------- dialogues


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
        preview = _preview(message, context, upload.data, upload.name, flags, upload.admin)
        context.application.create_task(preview, update=update)  # slow: not in the way
        raise ApplicationHandlerStop
    if "addfact" in chat_data:
        await _addfact_step(update, message, context, text)
        raise ApplicationHandlerStop


async def _addfact_step(update: Update, message: Message, context: Context, text: str) -> None:
    chat_data = context.chat_data
    assert chat_data is not None
    draft: dict[str, Any] = chat_data["addfact"]
    if text == "取消":
        chat_data.pop("addfact", None)
        await send(message, "已取消添加问答。")
        return
    step = draft["step"]
    if step == "question":
        draft.update(question=text, step="alternatives")
        await send(message, "其他问法（每行一个；没有请发“无”）：")
    elif step == "alternatives":
        draft["alternatives"] = (
            ()
            if text in ("无", "没有", "-")
            else tuple(line.strip() for line in text.splitlines() if line.strip())
        )
        draft["step"] = "answer"
        await send(message, "答案：")
    elif step == "answer":
        draft.update(answer=text, step="report")
        reports = context.bot_data.live.engine.kb.reports
        listing = "\n".join(
            f"<code>{escape(r.report_id)}</code> {escape(r.agency)} {r.year or ''}"
            for r in reports[:30]
        )
        await send(message, f"来源报告的 ID（从下面复制）：\n{listing}")
    else:
        chat_data.pop("addfact", None)
        save = _save_fact(
            message,
            context,
            draft["question"],
            draft["answer"],
            text,
            draft.get("alternatives", ()),
        )
        context.application.create_task(save, update=update)  # the reload is not in the way


async def _save_fact(
    message: Message,
    context: Context,
    question: str,
    answer: str,
    report_id: str,
    alternatives: tuple[str, ...],
) -> None:
    user_id = message.from_user.id if message.from_user else 0
    await _commit(
        context,
        functools.partial(send, message),
        functools.partial(
            kbwrite.add_fact,
            context.bot_data.repo,
            question,
            answer,
            report_id,
            f"telegram:{user_id}",
            alternatives,
        ),
        lambda made: f"✅ 已添加问答 {made[0].id}（改动 #{made[1].seq}）。",
    )


@admin_command
async def on_addfact(update: Update, context: Context, message: Message) -> None:
    if context.chat_data is None:
        return
    args = " ".join(context.args or []).strip()
    if args:
        parts = [p.strip() for p in args.split("|")]
        if len(parts) < 3:
            await send(message, "用法：/addfact 问题 | 答案 | 报告ID [| 其他问法1；其他问法2]")
            return
        alternatives = (
            tuple(a.strip() for a in parts[3].replace(";", "；").split("；") if a.strip())
            if len(parts) > 3
            else ()
        )
        await _save_fact(message, context, parts[0], parts[1], parts[2], alternatives)
        return
    context.chat_data["addfact"] = {"step": "question"}
    await send(message, "添加问答（随时发送“取消”放弃）。请发送问题：")


# ---------------------------------------------------------------- commands


@admin_command
async def on_facts(update: Update, context: Context, message: Message) -> None:
    facts = context.bot_data.live.engine.kb.facts
    if not facts:
        await send(message, "还没有人工整理的问答。用 /addfact 添加。")
        return
    lines = [f"<b>问答（{len(facts)} 条）</b>"]
    lines += [
        f"<code>{f.id}</code> {escape(f.question)} → {escape(f.answer[:60])}"
        f"（{escape(f.report_id)}）"
        for f in facts[:50]
    ]
    await send(message, "\n".join(lines))


@admin_command
async def on_delfact(update: Update, context: Context, message: Message) -> None:
    if not context.args:
        await send(message, "用法：/delfact 编号（用 /facts 查看编号）")
        return
    fact_id = context.args[0]
    await _commit(
        context,
        functools.partial(send, message),
        functools.partial(kbwrite.remove_fact, context.bot_data.repo, fact_id, _actor(update)),
        lambda change: f"🗑 已删除问答 {escape(fact_id)}（改动 #{change.seq}）。",
        failed="❌ 未删除",
    )


@admin_command
async def on_reload(update: Update, context: Context, message: Message) -> None:
    note = await _reload(context)
    kb = context.bot_data.live.engine.kb
    await send(
        message,
        note.strip()
        or f"✅ 已重新读取知识库：{len(kb.reports)} 份报告，"
        f"{kb.passage_count} 段，{len(kb.facts)} 条问答。",
    )


@admin_command
async def on_undo(update: Update, context: Context, message: Message) -> None:
    await _commit(
        context,
        functools.partial(send, message),
        functools.partial(context.bot_data.repo.undo, _actor(update)),
        lambda change: f"↩️ 已撤销：{escape(change.target)}。",
        failed="❌ 无法撤销",
    )


@admin_command
async def on_history(update: Update, context: Context, message: Message) -> None:
    """/history [page]: the latest changes, HISTORY_PAGE to a page, newest first."""
    arg = (context.args or ["1"])[0]
    page = int(arg) if arg.isdigit() and int(arg) > 0 else 1
    records, total = context.bot_data.repo.audit_page(page, HISTORY_PAGE)
    if not total:
        await send(message, "还没有改动记录。")
        return
    pages = -(-total // HISTORY_PAGE)
    if not records:
        await send(message, f"没有第 {page} 页（共 {pages} 页）。")
        return
    lines = [f"<b>改动记录</b>（第 {page}/{pages} 页，共 {total} 条）"] + [
        f"#{r.get('seq')} {escape(str(r.get('time', ''))[:16])} {escape(str(r.get('actor')))} "
        f"{escape(str(r.get('action')))} {escape(str(r.get('target')))}"
        + ("" if r.get("outcome") == "done" else f"（{escape(str(r.get('outcome')))}）")
        for r in reversed(records)
    ]
    if page < pages:
        lines.append(f"更早的改动：/history {page + 1}")
    await send(message, "\n".join(lines))


def stats_text(context: Context) -> str:
    bot_data = context.bot_data
    engine = bot_data.live.engine
    kb = engine.kb
    state = bot_data.settings.state_dir
    now = time.time()
    today = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    day = chat.usage(state, today)
    week = chat.usage(state, today - 6 * 86400)
    records = bot_data.repo.audit(limit=1)
    last = (
        f"#{records[-1].get('seq')} {str(records[-1].get('time'))[:16]} "
        f"{records[-1].get('action')} {records[-1].get('target')}"
        if records
        else "无"
    )
    return "\n".join(
        [
            "<b>知识库</b>",
            f"报告 {len(kb.reports)} 份，段落 {kb.passage_count} 段，问答 {len(kb.facts)} 条",
            f"索引 {engine.index.nbytes / 1e6:.1f} MB，词项 {len(engine.index.vocab)} 个",
            f"最近改动：{escape(last)}",
            "<b>提问</b>",
            f"今天：{day.asked} 个，已回答 {day.answered}，未回答 {day.unanswered}",
            f"近 7 天：{week.asked} 个，已回答 {week.answered}，未回答 {week.unanswered}",
        ]
    )


@admin_command
async def on_kbstats(update: Update, context: Context, message: Message) -> None:
    await send(message, stats_text(context))


@admin_command
async def on_unanswered(update: Update, context: Context, message: Message) -> None:
    recent, frequent = chat.unanswered(context.bot_data.settings.state_dir)
    if not recent:
        await send(message, "目前没有未能回答的问题。")
        return
    lines = ["<b>最近未能回答的问题</b>"] + [f"· {escape(q)}" for q in recent]
    lines += ["", "<b>最常见的</b>"] + [f"· {escape(q)}（{n} 次）" for q, n in frequent]
    await send(message, "\n".join(lines))


@admin_command
async def on_feedback(update: Update, context: Context, message: Message) -> None:
    votes = chat.negative_feedback(context.bot_data.settings.state_dir)
    if not votes:
        await send(message, "目前没有被点 👎 的回答。")
        return
    lines = ["<b>被点 👎 的回答</b>"]
    for v in votes:
        when = time.strftime("%m-%d %H:%M", time.localtime(float(str(v.get("t", 0)))))
        lines.append(f"· {escape(str(v.get('question', '')))}（{when}）")
    await send(message, "\n".join(lines))


async def digest(context: Context) -> None:
    """The daily summary for admins (JobQueue)."""
    text = "📊 每日摘要\n" + stats_text(context)
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
