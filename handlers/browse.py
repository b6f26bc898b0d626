"""What the knowledge base holds: /start, /help, /agencies, /reports (paged), /all."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

import render
from handlers import callbacks, views
from handlers.admin import is_admin
from handlers.reply import send
from handlers.state import Context
from render import escape
from reportqa.models import Report


async def on_start(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    service = context.bot_data.service
    examples = await asyncio.to_thread(
        lambda: [(service.remember(q), q) for q in service.examples()]
    )
    text = render.welcome(service.engine.kb, bool(examples))
    await send(message, text, views.questions_keyboard(examples))


async def on_help(update: Update, context: Context) -> None:
    if update.effective_message:
        extra = f"\n\n{render.ADMIN_HELP}" if is_admin(update, context) else ""
        await send(update.effective_message, render.HELP + extra)


async def on_all(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None:
        return
    await asyncio.to_thread(context.bot_data.service.restrict, message.chat.id, [], "")
    await send(message, "好的，接下来的问题将在全部报告中查找。")


def _agencies(context: Context) -> dict[str, list[Report]]:
    by_agency: dict[str, list[Report]] = defaultdict(list)
    for report in context.bot_data.service.engine.kb.reports:
        by_agency[report.agency or "未知机构"].append(report)
    return dict(sorted(by_agency.items()))


def _agency_items(context: Context) -> list[tuple[str, str]]:
    return [
        (f"{agency}（{len(reports)} 份）", views.short_key(agency))
        for agency, reports in _agencies(context).items()
    ]


def _report_items(context: Context) -> list[tuple[str, str]]:
    reports = sorted(
        context.bot_data.service.engine.kb.reports, key=lambda r: (r.agency, r.year or 0)
    )
    return [
        (f"{r.year or ''} {r.agency} · {r.title or r.doc_type}", views.short_key(r.report_id))
        for r in reports
    ]


async def on_agencies(update: Update, context: Context) -> None:
    if update.effective_message:
        await _show_page(update.effective_message, context, "agencies", 0, edit=False)


async def on_reports(update: Update, context: Context) -> None:
    if update.effective_message:
        user = update.effective_user.id if update.effective_user else 0
        await _show_page(update.effective_message, context, "reports", 0, False, user)


async def _show_page(
    message: Message, context: Context, what: str, page: int, edit: bool, user_id: int = 0
) -> None:
    service = context.bot_data.service
    if what == "agencies":
        items, choose, turn = _agency_items(context), callbacks.AGENCY, callbacks.AGENCY_PAGE
        head = f"知识库中的机构（共 {len(items)} 个）。选择一个，接下来只在它的报告中回答："
    else:
        items, choose, turn = _report_items(context), callbacks.REPORT, callbacks.REPORT_PAGE
        total = service.engine.kb.passage_count
        head = f"知识库中的报告（共 {len(items)} 份，{total} 段）。选择一份，接下来只在其中回答："
    scope = await asyncio.to_thread(service.scope_label, message.chat.id)
    if scope:
        head += f"\n当前限定：{escape(scope)}（/all 取消）"
    is_admin = user_id in context.bot_data.settings.admin_ids
    remove = callbacks.REMOVE_PREFIX if what == "reports" and is_admin else ""
    markup = views.paged_keyboard(items, page, choose, turn, remove)
    if edit:
        with contextlib.suppress(TelegramError):  # an unchanged page is not an error
            await message.edit_text(head, reply_markup=markup, parse_mode=ParseMode.HTML)
    else:
        await send(message, head, markup)


async def on_page(update: Update, context: Context) -> None:
    """◀ ▶ of the agencies (a|n) or reports (r|n) list."""
    query = update.callback_query
    assert query is not None and query.data
    await query.answer()
    if isinstance(query.message, Message):
        what = "agencies" if query.data.startswith(callbacks.AGENCY_PAGE) else "reports"
        number = callbacks.parse_page(query.data)
        await _show_page(query.message, context, what, number, True, query.from_user.id)


async def on_choose_agency(update: Update, context: Context) -> None:
    """An agency chosen: answer from its reports only."""
    query = update.callback_query
    assert query is not None and query.data
    by_key = {views.short_key(a): (a, rs) for a, rs in _agencies(context).items()}
    chosen = by_key.get(callbacks.arg(query.data))
    if chosen is None or not isinstance(query.message, Message):
        await query.answer("该机构已不在知识库中。", show_alert=True)
        return
    agency, reports = chosen
    service = context.bot_data.service
    await asyncio.to_thread(service.restrict, query.message.chat.id, reports, agency)
    await query.answer(f"已限定为：{agency}")
    text = f"接下来只在 <b>{escape(agency)}</b> 的报告中回答。发送 /all 取消。"
    await send(query.message, text)


async def on_choose_report(update: Update, context: Context) -> None:
    """A report chosen: answer from it only."""
    query = update.callback_query
    assert query is not None and query.data
    service = context.bot_data.service
    by_key = {views.short_key(r.report_id): r for r in service.engine.kb.reports}
    report = by_key.get(callbacks.arg(query.data))
    if report is None or not isinstance(query.message, Message):
        await query.answer("该报告已不在知识库中。", show_alert=True)
        return
    label = f"{report.agency}《{report.title or report.doc_type}》"
    await asyncio.to_thread(service.restrict, query.message.chat.id, [report], label)
    await query.answer("已限定为这份报告")
    await send(query.message, f"接下来只在 {escape(label)} 中回答。发送 /all 取消。")
