"""The bot's commands, once: their names, the words of the command menus and of the help
texts, and the handler of each (as "module.function" in `handlers`, resolved by
handlers.register). Everything else that lists commands is built from this table: the menus
(telegram_app), the help texts (render.HELP, render.ADMIN_HELP) and the registration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    menu: str  # the command menu's description
    usage: str  # the help text's line after /name
    handler: str  # "module.function" in the handlers package
    admin: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("start", "简介和示例问题", "简介和示例问题", "browse.on_start"),
    Command("help", "怎么提问", "本帮助", "browse.on_help"),
    Command(
        "ask",
        "提问（群组中使用）",
        "问题 — 在群组里提问（也可以 @我 或回复我的消息）",
        "ask.on_ask_command",
    ),
    Command(
        "agencies",
        "按机构浏览和限定",
        "按机构浏览，选中后只在该机构的报告中回答",
        "browse.on_agencies",
    ),
    Command(
        "reports",
        "按报告浏览和限定",
        "按报告浏览，选中后只在该报告中回答",
        "browse.on_reports",
    ),
    Command("all", "取消限定，查全部报告", "取消限定，回到全部报告", "browse.on_all"),
    Command(
        "addfact",
        "添加问答",
        "问题 | 答案 | 报告ID — 添加问答（只发 /addfact 则逐步填写）",
        "facts.on_addfact",
        admin=True,
    ),
    Command("facts", "列出问答", "列出问答", "facts.on_facts", admin=True),
    Command("delfact", "删除问答", "编号 — 删除问答", "facts.on_delfact", admin=True),
    Command("reload", "重新读取知识库", "重新读取知识库文件夹", "kb_admin.on_reload", admin=True),
    Command("undo", "撤销上一次改动", "撤销上一次改动", "kb_admin.on_undo", admin=True),
    Command("history", "最近的改动", "[页码] — 最近的改动", "kb_admin.on_history", admin=True),
    Command("kbstats", "知识库与提问统计", "知识库与提问统计", "kb_admin.on_kbstats", admin=True),
    Command("unanswered", "未能回答的问题", "未能回答的问题", "kb_admin.on_unanswered", admin=True),
    Command("feedback", "被点踩的回答", "被点 👎 的回答", "kb_admin.on_feedback", admin=True),
)
USER_COMMANDS = tuple(c for c in COMMANDS if not c.admin)
ADMIN_COMMANDS = tuple(c for c in COMMANDS if c.admin)


def help_lines(commands: tuple[Command, ...]) -> str:
    """One help line a command: /name usage."""
    return "\n".join(f"/{c.name} {c.usage}" for c in commands)
