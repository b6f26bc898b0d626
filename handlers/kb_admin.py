"""Knowledge-base admin: removing a report (🗑 then 确认删除), /reload, /undo, /history and the
statistics (/kbstats, /unanswered, /feedback)."""

from __future__ import annotations

import asyncio
import functools
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from handlers import callbacks, views
from handlers.admin import (
    actor,
    admin_command,
    admin_press,
    commit,
    commit_and_edit,
    edit_or_send,
    reload_kb,
)
from handlers.reply import send
from handlers.state import Context
from render import escape
from reportqa.kb import changes
from reportqa.models import Report

HISTORY_PAGE = 15  # changes per /history page


async def _chosen_report(update: Update, context: Context) -> tuple[Report, Message] | None:
    """The report an admin's 🗑 / 确认删除 names, and the message; None once answered
    otherwise (not an admin, or the report is gone)."""
    pressed = await admin_press(update, context)
    query = update.callback_query
    if pressed is None or query is None:
        return None
    (key, _), message = pressed
    reports = context.bot_data.live.engine.kb.reports
    report = next((r for r in reports if views.short_key(r.report_id) == key), None)
    if report is None:
        await query.answer("该报告已不在知识库中。", show_alert=True)
        return None
    await query.answer()
    return report, message


async def on_remove_ask(update: Update, context: Context) -> None:
    """🗑 on a report: ask first."""
    chosen = await _chosen_report(update, context)
    if chosen is None:
        return
    report, message = chosen
    confirm = callbacks.remove_report(views.short_key(report.report_id), confirmed=True)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("确认删除", callback_data=confirm),
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


async def on_remove_confirm(update: Update, context: Context) -> None:
    """确认删除: remove the report (and the facts citing it)."""
    chosen = await _chosen_report(update, context)
    if chosen is None:
        return
    report, message = chosen
    remove = functools.partial(
        changes.remove_report, context.bot_data.repo, report.report_id, actor(update)
    )
    await commit_and_edit(
        context,
        message,
        remove,
        lambda change: (
            f"🗑 已删除 {escape(report.report_id)}（改动 #{change.seq}，可用 /undo 撤销）。"
        ),
        failed="❌ 未删除",
    )


async def on_cancel_button(update: Update, context: Context) -> None:
    """取消 of a confirmation."""
    pressed = await admin_press(update, context)
    if pressed is not None and update.callback_query is not None:
        await update.callback_query.answer("已取消")
        await edit_or_send(pressed[1], "已取消。")


@admin_command
async def on_reload(update: Update, context: Context, message: Message) -> None:
    note = await reload_kb(context)
    kb = context.bot_data.live.engine.kb
    await send(
        message,
        note.strip()
        or f"✅ 已重新读取知识库：{len(kb.reports)} 份报告，"
        f"{kb.passage_count} 段，{len(kb.facts)} 条问答。",
    )


@admin_command
async def on_undo(update: Update, context: Context, message: Message) -> None:
    await commit(
        context,
        functools.partial(send, message),
        functools.partial(context.bot_data.repo.undo, actor(update)),
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
    conversations = bot_data.service.conversations
    now = time.time()
    today = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    day = conversations.usage(today)
    week = conversations.usage(today - 6 * 86400)
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
    await send(message, await asyncio.to_thread(stats_text, context))


@admin_command
async def on_unanswered(update: Update, context: Context, message: Message) -> None:
    recent, frequent = await asyncio.to_thread(context.bot_data.service.conversations.unanswered)
    if not recent:
        await send(message, "目前没有未能回答的问题。")
        return
    lines = ["<b>最近未能回答的问题</b>"] + [f"· {escape(q)}" for q in recent]
    lines += ["", "<b>最常见的</b>"] + [f"· {escape(q)}（{n} 次）" for q, n in frequent]
    await send(message, "\n".join(lines))


@admin_command
async def on_feedback(update: Update, context: Context, message: Message) -> None:
    votes = await asyncio.to_thread(context.bot_data.service.conversations.negative_feedback)
    if not votes:
        await send(message, "目前没有被点 👎 的回答。")
        return
    lines = ["<b>被点 👎 的回答</b>"]
    for v in votes:
        when = time.strftime("%m-%d %H:%M", time.localtime(float(str(v.get("t", 0)))))
        lines.append(f"· {escape(str(v.get('question', '')))}（{when}）")
    await send(message, "\n".join(lines))
