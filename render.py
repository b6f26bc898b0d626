"""Answer -> text for people: the same wording for the console and (later) Telegram.

No Telegram import here: rendering is plain string work on the engine's dataclasses.
"""

from __future__ import annotations

from reportqa.models import Answer, Hit

PASSAGE_MAX = 600  # characters of passage shown around the answer sentence


def source_line(hit: Hit) -> str:
    """agency · 《title》 · section · year"""
    r = hit.report
    parts = [r.agency or "未知机构"]
    if r.title:
        parts.append(f"《{r.title}》")
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


def plain(answer: Answer) -> str:
    """A readable answer: the sentence, the passage, the source; or an honest no-answer."""
    if not answer.answered:
        lines = [
            f"抱歉，现有报告中没有找到这个问题的答案（{answer.reason or '没有足够相关的内容'}）。"
        ]
        if answer.coverage:
            lines.append("知识库目前收录：")
            lines.extend(f"  · {c}" for c in answer.coverage)
        if answer.hits:
            lines.append(f"最接近的内容（仅供参考）：{answer.hits[0].sentence}")
            lines.append(f"  —— {source_line(answer.hits[0])}")
        return "\n".join(lines)
    hit = answer.hits[0]
    lines = [f"答：{hit.sentence}", ""]
    if hit.fact is None and hit.passage.text.strip() != hit.sentence.strip():
        lines += [trim_passage(hit.passage.text, hit.sentence), ""]
    lines.append(f"来源：{source_line(hit)}")
    return "\n".join(lines)
