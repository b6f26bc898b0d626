"""Curated facts: /addfact (in one line, or step by step: a dialogue kept in the admin steps,
so any worker takes the next answer), /facts, /delfact."""

from __future__ import annotations

import asyncio
import functools

from telegram import Message, Update

from handlers.admin import actor, admin_command, commit
from handlers.reply import send
from handlers.state import Context
from render import escape
from reportqa.kb import changes
from reportqa.steps import Dialogue

NONE = ("无", "没有", "-")  # "no other wordings"


@admin_command
async def on_addfact(update: Update, context: Context, message: Message) -> None:
    """/addfact 问题 | 答案 | 报告ID [| 其他问法…] saves at once; /addfact alone starts asking
    for the question, other wordings, the answer and the report, one message each (取消 ends
    it)."""
    args = " ".join(context.args or []).strip()
    if not args:
        start = {"kind": "addfact", "step": "question", "draft": {}}
        steps = context.bot_data.steps
        await asyncio.to_thread(steps.set_dialogue, message.chat.id, _user(update), start)
        await send(message, "添加问答（随时发送“取消”放弃）。请发送问题：")
        return
    parts = [p.strip() for p in args.split("|")]
    if len(parts) < 3:
        await send(message, "用法：/addfact 问题 | 答案 | 报告ID [| 其他问法1；其他问法2]")
        return
    alternatives = (
        tuple(a.strip() for a in parts[3].replace(";", "；").split("；") if a.strip())
        if len(parts) > 3
        else ()
    )
    save = _save_fact(message, context, parts[0], parts[1], parts[2], alternatives)
    context.application.create_task(save, update=update)  # the reload is not in the way


async def addfact_step(
    update: Update, message: Message, context: Context, text: str, dialogue: Dialogue
) -> None:
    """One answer of the /addfact dialogue: the next question, or the fact saved. The dialogue
    moves on only from the step it was read at, so of two messages handled at once (by two
    workers) one counts and the other is asked again."""
    steps, chat, user = context.bot_data.steps, message.chat.id, _user(update)
    draft = dict(dialogue.get("draft") or {})
    step = dialogue.get("step")
    after: Dialogue | None = None
    if text == "取消" or step == "report":
        ask = "已取消添加问答。" if text == "取消" else ""
    elif step == "question":
        draft["question"], step, ask = text, "alternatives", "其他问法（每行一个；没有请发“无”）："
    elif step == "alternatives":
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        draft["alternatives"], step, ask = [] if text in NONE else lines, "answer", "答案："
    else:
        draft["answer"], step, ask = text, "report", _report_listing(context)
    if ask and text != "取消":
        after = {"kind": "addfact", "step": step, "draft": draft}
    if not await asyncio.to_thread(steps.advance, chat, user, dialogue, after):
        await send(message, "上一条还在处理，请稍后重新发送这一条。")
        return
    if ask:
        await send(message, ask)
        return
    alternatives = tuple(draft.get("alternatives", ()))
    question, answer = draft.get("question", ""), draft.get("answer", "")
    save = _save_fact(message, context, question, answer, text, alternatives)
    context.application.create_task(save, update=update)  # the reload is not in the way


def _report_listing(context: Context) -> str:
    listing = "\n".join(
        f"<code>{escape(r.report_id)}</code> {escape(r.agency)} {r.year or ''}"
        for r in context.bot_data.live.engine.kb.reports[:30]
    )
    return f"来源报告的 ID（从下面复制）：\n{listing}"


def _user(update: Update) -> int:
    return update.effective_user.id if update.effective_user else 0


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
            changes.add_fact,
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
        functools.partial(changes.remove_fact, context.bot_data.repo, fact_id, actor(update)),
        lambda change: f"🗑 已删除问答 {escape(fact_id)}（改动 #{change.seq}）。",
        failed="❌ 未删除",
    )
