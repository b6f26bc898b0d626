"""Curated facts: /addfact (in one line, or step by step as a ConversationHandler), /facts,
/delfact."""

from __future__ import annotations

import functools
from typing import Any

from telegram import Message, Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from handlers.admin import actor, admin_command, commit
from handlers.reply import send
from handlers.state import Context
from render import escape
from reportqa.kb import changes

QUESTION, ALTERNATIVES, ANSWER, REPORT = range(4)  # the /addfact dialogue's states
_CANCEL = filters.Regex(r"^\s*取消\s*$")


def addfact_dialogue(admins: filters.BaseFilter) -> ConversationHandler:  # type: ignore[type-arg]
    """/addfact as a ConversationHandler: with arguments it saves at once; alone it asks for
    the question, other wordings, the answer and the report, one message each. 取消 ends it."""
    text = filters.TEXT & ~filters.COMMAND & ~_CANCEL
    cancel = MessageHandler(_CANCEL & ~filters.COMMAND, _cancelled)
    return ConversationHandler(
        entry_points=[CommandHandler("addfact", on_addfact, filters=admins)],
        states={
            QUESTION: [cancel, MessageHandler(text, _got_question)],
            ALTERNATIVES: [cancel, MessageHandler(text, _got_alternatives)],
            ANSWER: [cancel, MessageHandler(text, _got_answer)],
            REPORT: [cancel, MessageHandler(text, _got_report)],
        },
        fallbacks=[],
        name="addfact",
    )


async def on_addfact(update: Update, context: Context) -> int:
    """/addfact 问题 | 答案 | 报告ID [| 其他问法…] saves at once; /addfact alone starts asking."""
    message = update.effective_message
    if message is None or context.chat_data is None:
        return ConversationHandler.END
    args = " ".join(context.args or []).strip()
    if not args:
        context.chat_data["addfact"] = {}
        await send(message, "添加问答（随时发送“取消”放弃）。请发送问题：")
        return QUESTION
    parts = [p.strip() for p in args.split("|")]
    if len(parts) < 3:
        await send(message, "用法：/addfact 问题 | 答案 | 报告ID [| 其他问法1；其他问法2]")
        return ConversationHandler.END
    alternatives = (
        tuple(a.strip() for a in parts[3].replace(";", "；").split("；") if a.strip())
        if len(parts) > 3
        else ()
    )
    save = _save_fact(message, context, parts[0], parts[1], parts[2], alternatives)
    context.application.create_task(save, update=update)  # the reload is not in the way
    return ConversationHandler.END


def _draft(context: Context) -> dict[str, Any]:
    assert context.chat_data is not None
    return context.chat_data.setdefault("addfact", {})  # type: ignore[no-any-return]


async def _got_question(update: Update, context: Context) -> int:
    assert update.effective_message and update.effective_message.text
    _draft(context)["question"] = update.effective_message.text.strip()
    await send(update.effective_message, "其他问法（每行一个；没有请发“无”）：")
    return ALTERNATIVES


async def _got_alternatives(update: Update, context: Context) -> int:
    assert update.effective_message and update.effective_message.text
    text = update.effective_message.text.strip()
    lines = tuple(line.strip() for line in text.splitlines() if line.strip())
    _draft(context)["alternatives"] = () if text in ("无", "没有", "-") else lines
    await send(update.effective_message, "答案：")
    return ANSWER


async def _got_answer(update: Update, context: Context) -> int:
    assert update.effective_message and update.effective_message.text
    _draft(context)["answer"] = update.effective_message.text.strip()
    listing = "\n".join(
        f"<code>{escape(r.report_id)}</code> {escape(r.agency)} {r.year or ''}"
        for r in context.bot_data.live.engine.kb.reports[:30]
    )
    await send(update.effective_message, f"来源报告的 ID（从下面复制）：\n{listing}")
    return REPORT


async def _got_report(update: Update, context: Context) -> int:
    message = update.effective_message
    assert message and message.text and context.chat_data is not None
    draft = context.chat_data.pop("addfact", {})
    save = _save_fact(
        message,
        context,
        draft.get("question", ""),
        draft.get("answer", ""),
        message.text.strip(),
        draft.get("alternatives", ()),
    )
    context.application.create_task(save, update=update)  # the reload is not in the way
    return ConversationHandler.END


async def _cancelled(update: Update, context: Context) -> int:
    if context.chat_data is not None:
        context.chat_data.pop("addfact", None)
    if update.effective_message:
        await send(update.effective_message, "已取消添加问答。")
    return ConversationHandler.END


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
