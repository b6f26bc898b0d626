"""Curated facts: /addfact (in one line, or step by step), /facts, /delfact."""

from __future__ import annotations

import functools
from typing import Any

from telegram import Message, Update

from handlers.admin import actor, admin_command, commit
from handlers.ask import send
from handlers.state import Context
from render import escape
from reportqa import kbwrite


async def addfact_step(update: Update, message: Message, context: Context, text: str) -> None:
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
    await commit(
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
    await commit(
        context,
        functools.partial(send, message),
        functools.partial(kbwrite.remove_fact, context.bot_data.repo, fact_id, actor(update)),
        lambda change: f"🗑 已删除问答 {escape(fact_id)}（改动 #{change.seq}）。",
        failed="❌ 未删除",
    )
