"""The console chat: what the Telegram bot says, as plain text for a terminal.

The same commands as the bot (/start, /help, /agencies, /reports, /all, /ask), the same
answers and wording (render.py), the same follow-ups and restriction to one agency or report
(chat.ChatService). Where Telegram shows buttons, the console numbers the choices: `/reports 3`
chooses the third report listed.
"""

from __future__ import annotations

from collections import defaultdict

import render
from chat import ChatService, classify
from reportqa.models import Report

CONSOLE_CHAT = 0  # the console is one chat
CHOOSING = "（控制台中发送 /agencies 编号 或 /reports 编号 选中，/all 取消；exit 退出）"
MAX_LISTED = 200


class Console:
    """Replies to what is typed at the console prompt."""

    def __init__(self, service: ChatService) -> None:
        self.service = service

    def reply(self, line: str) -> str:
        text = line.strip()
        if text.startswith("/"):
            command, _, rest = text[1:].partition(" ")
            return self.command(command.split("@")[0].lower(), rest.strip())
        kind = classify(text)
        if kind == "help":
            return self.command("help", "")
        if kind == "chitchat":
            examples = self.service.examples(1)
            return render.CHITCHAT.format(example=examples[0] if examples else "")
        return self.ask(text)

    def ask(self, question: str) -> str:
        reply = self.service.ask(CONSOLE_CHAT, CONSOLE_CHAT, question)
        return render.reply_plain(reply.answer, reply.question if reply.followup else "")

    def command(self, name: str, rest: str) -> str:
        if name == "start":
            examples = self.service.examples()
            lines = [render.to_plain(render.welcome(self.service.engine.kb, bool(examples)))]
            lines += [f"  · {q}" for q in examples]
            return "\n".join(lines)
        if name == "help":
            return render.to_plain(render.HELP) + "\n" + CHOOSING
        if name == "ask":
            return self.ask(rest) if rest else "用法：/ask 问题"
        if name == "all":
            self.service.restrict(CONSOLE_CHAT, [], "")
            return "好的，接下来的问题将在全部报告中查找。"
        if name == "agencies":
            return self._choose(self._agencies(), rest, "机构")
        if name == "reports":
            reports = sorted(self.service.engine.kb.reports, key=lambda r: (r.agency, r.year or 0))
            items = [(_report_label(r), [r]) for r in reports]
            return self._choose(items, rest, "报告")
        return f"没有 /{name} 这个命令。发送 /help 查看用法。"

    def _agencies(self) -> list[tuple[str, list[Report]]]:
        by_agency: dict[str, list[Report]] = defaultdict(list)
        for report in self.service.engine.kb.reports:
            by_agency[report.agency or "（未识别机构）"].append(report)
        return [(f"{a}（{len(rs)} 份）", rs) for a, rs in sorted(by_agency.items())]

    def _choose(self, items: list[tuple[str, list[Report]]], rest: str, what: str) -> str:
        if rest:
            if not rest.isdigit() or not 1 <= int(rest) <= len(items):
                return f"请在 1 到 {len(items)} 之间选择{what}编号。"
            label, reports = items[int(rest) - 1]
            self.service.restrict(CONSOLE_CHAT, reports, label)
            return f"好的，接下来只在「{label}」中查找。发送 /all 取消限定。"
        lines = [f"知识库中的{what}（共 {len(items)} 个）："]
        lines += [f"{n:>3}. {label}" for n, (label, _) in enumerate(items[:MAX_LISTED], 1)]
        if len(items) > MAX_LISTED:
            lines.append(f"……另有 {len(items) - MAX_LISTED} 个")
        return "\n".join([*lines, CHOOSING])


def _report_label(r: Report) -> str:
    who = r.agency or "（未识别机构）"
    return f"{r.year or '年份不详'} {who} · {r.title or r.doc_type or r.source_file}"
