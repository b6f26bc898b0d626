"""Telegram-side views: answer messages and their buttons, built from render's layouts (the
buttons' callback data comes from handlers.callbacks)."""

from __future__ import annotations

import hashlib

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

import render
from chat import Reply
from handlers import callbacks
from reportqa.models import Hit

PAGE = 8  # agencies or reports per page


def short_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def answer_text(reply: Reply, index: int = 0) -> str:
    """The HTML of result `index` of a reply (0 is the answer)."""
    return render.reply_html(reply.answer, index, reply.question if reply.followup else "")


def answer_keyboard(reply: Reply, index: int = 0) -> InlineKeyboardMarkup | None:
    answer = reply.answer
    if not answer.hits:
        return None
    if not answer.answered:  # offer the nearest topics instead of an answer
        buttons = []
        for hit in answer.hits[:3]:
            label = (hit.section.split(" / ")[-1] if hit.section else hit.sentence)[:24]
            buttons.append([InlineKeyboardButton(f"📖 {label}", callback_data=_open(hit))])
        return InlineKeyboardMarkup(buttons)
    hit = answer.hits[index]
    row = []
    if index + 1 < len(answer.hits):
        row.append(
            InlineKeyboardButton("更多结果", callback_data=callbacks.more(reply.qid, index + 1))
        )
    if index > 0:
        row.append(InlineKeyboardButton("返回答案", callback_data=callbacks.more(reply.qid, 0)))
    if hit.fact is None:
        row.append(InlineKeyboardButton("原文", callback_data=_open(hit)))
    votes = [
        InlineKeyboardButton("👍", callback_data=callbacks.vote(True, reply.qid)),
        InlineKeyboardButton("👎", callback_data=callbacks.vote(False, reply.qid)),
    ]
    return InlineKeyboardMarkup([row, votes] if row else [votes])


def _open(hit: Hit) -> str:
    return callbacks.open_passage(hit.passage.id)


def questions_keyboard(questions: list[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """Buttons that ask (question id, question) pairs."""
    if not questions:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(q[:40], callback_data=callbacks.ask(qid))] for qid, q in questions]
    )


def paged_keyboard(
    items: list[tuple[str, str]], page: int, choose: str, turn: str, remove: str = ""
) -> InlineKeyboardMarkup:
    """One button per (label, key) on this page (with a 🗑 button beside it when `remove`
    names its callback prefix), then ◀ ▶ to turn pages; `choose` and `turn` are the kinds of
    callback (callbacks.AGENCY and callbacks.AGENCY_PAGE, or the reports' pair)."""
    pages = max(1, -(-len(items) // PAGE))
    page = min(max(page, 0), pages - 1)
    rows = []
    for label, key in items[page * PAGE : (page + 1) * PAGE]:
        row = [InlineKeyboardButton(label[:48], callback_data=callbacks.choose(choose, key))]
        if remove:
            row.append(InlineKeyboardButton("🗑 删除", callback_data=callbacks.choose(remove, key)))
        rows.append(row)
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀ 上一页", callback_data=callbacks.page(turn, page - 1)))
    if page + 1 < pages:
        nav.append(InlineKeyboardButton("下一页 ▶", callback_data=callbacks.page(turn, page + 1)))
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(rows)
