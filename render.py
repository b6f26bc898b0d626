"""Answer -> text for people: one wording for the console and Telegram.

An answer is first laid out as plain data (`Layout`: the answering sentence, the passage
around it, the source line, or the no-answer lines), then written out as plain text for the
console or as Telegram HTML, where every piece of report text is escaped and numbers in the
answering sentence are bold. `split_html` cuts long HTML below Telegram's 4096-character limit
at paragraph or sentence ends, never inside a tag. No Telegram import here.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from commands import ADMIN_COMMANDS, USER_COMMANDS, help_lines
from reportqa.models import Answer, Hit, KnowledgeBase, Passage, Reason, Report

HELP = (
    """<b>怎么提问</b>
直接发送问题即可，简体繁体都可以，例如：
· 舟山市科技局2020年公开了多少条政府信息？
· 上城发改局 信用修复 办件量
· 那科技局呢？（沿用上一个问题，换一个机构、地区或年份）

我会先给出回答问题的那句话，再附上原文段落和出处（机构 · 报告 · 章节 · 年份）。
报告里没有的内容，我会直说没有。

<b>命令</b>
"""
    + help_lines(USER_COMMANDS)
    + """
在任何聊天中输入 @机器人用户名 加问题，可以直接插入答案。"""
)
ADMIN_HELP = (
    "<b>管理员命令</b>\n发送报告文件（.txt .docx .html .pdf 或知识库 .yaml）即可预览并入库\n"
    + help_lines(ADMIN_COMMANDS)
)
CHITCHAT = (
    "我是政府报告问答机器人，只回答关于知识库中报告的问题，并注明出处。"
    "请直接提问，例如：{example}\n发送「帮助」或 /help 查看用法。"
)
PASSAGE_MAX = 600  # characters of passage shown around the answer sentence
TELEGRAM_LIMIT = 4096
NO_REASON = "没有足够相关的内容"
_NUMBER = re.compile(
    r"\d+(?:[.,]\d+)*(?:\s*%)?(?:\s*(?:余|多))?(?:\s*[万亿])?(?:余|多)?"
    r"(?:\s*(?:个工作日|工作日|个百分点|百分点|人次|平方公里|平方米|公里|千米|公顷|元|个|件|条|项|"
    r"家|名|人|次|篇|场|份|处|批|册|天|户|期|座|所|辆|台|套|亩|吨|米|倍|小时|年|月))?"
)


def source_line(hit: Hit) -> str:
    """agency · 《title》 · section · year"""
    r = hit.report
    parts = [r.agency] if r.agency else []  # no known agency: the title names the source
    if r.title or not r.agency:
        parts.append(f"《{r.title or r.source_file}》")
    if hit.section:
        parts.append(hit.section)
    if r.year:
        parts.append(f"{r.year}年")
    return " · ".join(parts)


def trim_passage(passage: str, sentence: str, limit: int = PASSAGE_MAX) -> str:
    """The passage, cut to about `limit` characters around the answer sentence."""
    if len(passage) <= limit:
        return passage
    at = max(passage.find(sentence), 0)
    start = max(0, min(at - (limit - len(sentence)) // 2, len(passage) - limit))
    text = passage[start : start + limit]
    return ("…" if start > 0 else "") + text + ("…" if start + limit < len(passage) else "")


@dataclass(frozen=True)
class Layout:
    """What an answer says, before it is written as plain text or HTML."""

    answered: bool
    sentence: str = ""
    passage: str = ""  # empty when it would only repeat the sentence
    source: str = ""
    no_answer: str = ""
    covers: tuple[str, ...] = ()
    nearest: str = ""  # the closest sentence when there is no answer (for reference only)
    nearest_source: str = ""
    note: str = ""  # said before the answer (a close agency standing in for the one asked)


_REASONS = {
    Reason.NOTHING_TO_SEARCH: "问题里没有可以检索的内容",
    Reason.NOTHING_FOUND: "知识库中没有找到相关内容",
    Reason.NO_REPORT_OF_PLACE: "知识库中没有{names}的报告",
    Reason.NO_REPORT_OF_AGENCY: "知识库中没有{names}的报告",
    Reason.NO_YEAR: "知识库中没有{names}年的相关内容",
    Reason.PLAN_ONLY: "这份报告是工作计划，只写了目标，没有写实际完成情况",
    Reason.NO_TOPIC: "问题里没有可以检索的具体内容，请说明想了解什么",
    Reason.NOT_COVERED: "报告中没有谈到这个问题",
}
_VALUE_NAMES = {"person": "人名"}  # other kinds of value asked are all 数值 to a reader


def reason_text(answer: Answer) -> str:
    """Why there is no answer, in Chinese."""
    if answer.reason is None:
        return NO_REASON
    if answer.reason is Reason.NO_VALUE:
        kind = answer.reason_data[0] if answer.reason_data else ""
        return f"报告中没有问题所问的{_VALUE_NAMES.get(kind, '数值')}"
    return _REASONS[answer.reason].format(names="、".join(answer.reason_data))


def stand_in_note(answer: Answer) -> str:
    """Said before an answer from a close agency's report, when none of the one asked is held."""
    if answer.stand_in is None:
        return ""
    named, agency = answer.stand_in
    return f"知识库中没有{named}的报告，以下按相近的{agency}的报告回答"


def coverage_line(r: Report) -> str:
    """One report of the knowledge base, as a no-answer lists it: agency (year) title."""
    year = r.year or "年份不详"
    if r.agency:
        return f"{r.agency}（{year}）{r.title}"
    return f"《{r.title or r.source_file}》（{year}）"


def kb_summary(kb: KnowledgeBase) -> str:
    """What the knowledge base holds, in one sentence (plain text)."""
    agencies = list(dict.fromkeys(r.agency for r in kb.reports if r.agency))
    years = sorted({r.year for r in kb.reports if r.year})
    span = f"{years[0]}–{years[-1]} 年" if len(years) > 1 else (f"{years[0]} 年" if years else "")
    return (
        f"知识库收录 {len(kb.reports)} 份报告（{span}），来自 {len(agencies)} 个机构："
        + "、".join(agencies[:8])
        + ("等" if len(agencies) > 8 else "")
    )


def layout(answer: Answer, index: int = 0) -> Layout:
    """The layout of result `index` of an answer (0: the answer itself)."""
    if not answer.answered:
        hit = answer.hits[0] if answer.hits else None
        return Layout(
            answered=False,
            no_answer=f"抱歉，现有报告中没有找到这个问题的答案（{reason_text(answer)}）。",
            covers=tuple(coverage_line(r) for r in answer.coverage),
            nearest=hit.sentence if hit else "",
            nearest_source=source_line(hit) if hit else "",
        )
    hit = answer.hits[index]
    passage = ""
    if hit.fact is None and hit.passage.text.strip() != hit.sentence.strip():
        passage = trim_passage(hit.passage.text, hit.sentence)
    return Layout(True, hit.sentence, passage, source_line(hit), note=stand_in_note(answer))


def reply_html(answer: Answer, index: int = 0, followup: str = "") -> str:
    """The Telegram HTML of result `index` of an answer (0 is the answer); `followup` is the
    question as understood when the message was a follow-up of the previous one."""
    notes = []
    if followup and index == 0:
        notes.append(f"<i>（按上一问理解为：{escape(followup)}）</i>")
    if index > 0:
        notes.append(f"<i>结果 {index + 1}/{len(answer.hits)}</i>")
    text = html_layout(layout(answer, index))
    return "\n".join([*notes, text]) if notes else text


def reply_plain(answer: Answer, followup: str = "") -> str:
    """The console's answer; `followup` as in reply_html."""
    note = f"（按上一问理解为：{followup}）\n" if followup else ""
    return note + plain(answer)


def plain(answer: Answer) -> str:
    """A readable answer: the sentence, the passage, the source; or an honest no-answer."""
    return plain_layout(layout(answer))


def plain_layout(lay: Layout) -> str:
    if not lay.answered:
        lines = [lay.no_answer]
        if lay.covers:
            lines.append("知识库目前收录：")
            lines.extend(f"  · {c}" for c in lay.covers)
        if lay.nearest:
            lines.append(f"最接近的内容（仅供参考）：{lay.nearest}")
            lines.append(f"  —— {lay.nearest_source}")
        return "\n".join(lines)
    lines = [f"（{lay.note}）"] if lay.note else []
    lines += [f"答：{lay.sentence}", ""]
    if lay.passage:
        lines += [lay.passage, ""]
    lines.append(f"来源：{lay.source}")
    return "\n".join(lines)


def escape(text: str) -> str:
    """Report or user text made safe for Telegram HTML."""
    return html.escape(text, quote=False)


def bold_numbers(text: str) -> str:
    """Escape `text` for Telegram HTML and put its numbers (with their units) in bold."""
    out: list[str] = []
    last = 0
    for m in _NUMBER.finditer(text):
        if not m.group(0).strip():
            continue
        out.append(html.escape(text[last : m.start()], quote=False))
        out.append(f"<b>{html.escape(m.group(0), quote=False)}</b>")
        last = m.end()
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def html_layout(lay: Layout, covers_limit: int = 12) -> str:
    """Telegram HTML of a layout; every piece of report text escaped."""
    esc = escape
    if not lay.answered:
        lines = [esc(lay.no_answer)]
        if lay.covers:
            lines.append("")
            lines.append("<b>知识库目前收录：</b>")
            lines.extend(f"· {esc(c)}" for c in lay.covers[:covers_limit])
            if len(lay.covers) > covers_limit:
                lines.append(f"……共 {len(lay.covers)} 份报告，发送 /reports 查看全部")
        if lay.nearest:
            lines.append("")
            lines.append(f"<i>最接近的内容（仅供参考）：</i>{esc(lay.nearest)}")
            lines.append(f"<i>—— {esc(lay.nearest_source)}</i>")
        return "\n".join(lines)
    lines = [f"<i>（{esc(lay.note)}）</i>", ""] if lay.note else []
    lines.append(f"💡 {bold_numbers(lay.sentence)}")
    if lay.passage:
        lines += ["", f"<blockquote>{esc(lay.passage)}</blockquote>"]
    lines += ["", f"📄 <i>{esc(lay.source)}</i>"]
    return "\n".join(lines)


def passage_html(report: Report, passage: Passage) -> str:
    """A whole passage (原文) with its source line."""
    hit = Hit(report, passage, "", 0.0)
    return f"{escape(passage.text)}\n\n📄 <i>{escape(source_line(hit))}</i>"


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Cut HTML into messages of at most `limit` characters, at paragraph, line or sentence
    ends outside tags; a tag open at a cut is closed and reopened in the next message."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _cut_point(rest, limit - 64)  # leave room to close and reopen tags
        if cut <= 0:  # a single tag longer than a message: keep the text, drop the markup
            rest = html.escape(html.unescape(re.sub(r"<[^>]*>", "", rest)), quote=False)
            continue
        head, rest = rest[:cut], rest[cut:]
        open_tags = _open_tags(head)
        head += "".join(f"</{name}>" for name, _ in reversed(open_tags))
        rest = "".join(tag for _, tag in open_tags) + rest.lstrip("\n")
        parts.append(head)
    parts.append(rest)
    return [p for p in parts if re.sub(r"<[^>]*>", "", p).strip()]  # no part without text


def _cut_point(text: str, limit: int) -> int:
    window = text[:limit]
    for sep in ("\n\n", "\n", "。", "；", "！", "？", "，", " "):
        at = window.rfind(sep)
        if at > limit // 3 and not _inside_tag(window, at):
            return at + len(sep)
    at = limit
    while _inside_tag(window, at) or _inside_entity(window, at):
        at -= 1
    return at


def _inside_tag(text: str, pos: int) -> bool:
    return text.rfind("<", 0, pos) > text.rfind(">", 0, pos)


def _inside_entity(text: str, pos: int) -> bool:
    amp = text.rfind("&", 0, pos)
    return amp != -1 and ";" not in text[amp:pos] and pos - amp < 12  # &#1114111; is 10


def _open_tags(text: str) -> list[tuple[str, str]]:
    stack: list[tuple[str, str]] = []
    for m in re.finditer(r"<(/?)([a-z-]+)[^>]*>", text):
        if m.group(1):
            if stack and stack[-1][0] == m.group(2):
                stack.pop()
        else:
            stack.append((m.group(2), m.group(0)))
    return stack


def welcome(kb: KnowledgeBase, examples: bool = True) -> str:
    """The first words of /start (HTML): who the bot is and what the knowledge base holds;
    with `examples`, it ends by introducing the example questions that follow."""
    return (
        "您好！我是政府报告问答机器人，可以回答关于政府工作报告、法治政府建设年度总结等报告的问题，"
        f"并注明出处。\n\n{escape(kb_summary(kb))}。\n\n直接发送您的问题即可。"
        + ("试试这些问题：" if examples else "")
    )


def to_plain(html_text: str) -> str:
    """Telegram HTML as console text: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"</?[a-z][^>]*>", "", html_text))
