"""Follow-up questions: 「那科技局呢？」 after a question reuses its topic with the new entity.

A message is a follow-up when it names an agency, a place or a year, asks about little else
(at most a few words like 情况), and is short or ends the way follow-ups end (呢, 的呢, 怎么样).
The previous question is then rewritten: the entities of the kinds the follow-up names are
replaced by the new ones, keeping the topic. A new place drops the old agency too, since the
agency of that kind may not exist there (上海 has a 经信委, not a 经信局).
"""

from __future__ import annotations

import re

from reportqa.normalize import normalize
from reportqa.search import Engine

MAX_FOLLOWUP = 32  # characters: longer messages are questions of their own
BARE_FOLLOWUP = 8  # a follow-up without 呢/怎么样 is shorter still (那科技局？ 2023年)
_ENDING = re.compile(r"(呢|的呢|怎么样|如何|情况如何|的情况)[?？!！。.\s]*$")
_LEAD = re.compile(r"^(那么|那|还有|换成|改成|再看看|再问问?|那要是)\s*")
_FILLER = re.compile(
    r"[呢吗啊呀吧的了么嘛?？!！。.,，\s]|那么|那|还有|换成|改成|情况|怎么样|如何|呢"
)


def rewrite(engine: Engine, previous: str, text: str) -> str | None:
    """The previous question asked again with the entities of `text`, or None when `text` is
    not a follow-up (a question of its own, or names no agency, place or year)."""
    plain = normalize(text)  # 怎麼樣 ends a follow-up as 怎么样 does
    if len(plain) > MAX_FOLLOWUP or (len(plain) > BARE_FOLLOWUP and not _ENDING.search(plain)):
        return None  # a question of its own: don't spend an analysis on it
    new = engine.analyse(text)
    if not new.entities:
        return None
    rest = new.norm
    for a, b, _ in reversed(new.entities):
        rest = rest[:a] + rest[b:]
    leftover = _FILLER.sub("", rest)
    if len(leftover) >= 2:
        return None  # it asks about something of its own (那科技局的经费呢: 经费)
    if len(new.norm) > BARE_FOLLOWUP and not _ENDING.search(new.norm):
        return None
    prev = engine.analyse(previous)
    kinds = {kind for _, _, kind in new.entities}
    drop = set(kinds)
    if "place" in kinds and "agency" not in kinds:
        drop.add("agency")
    old = [e for e in prev.entities if e[2] in drop]
    fresh = "".join(new.norm[a:b] for a, b, kind in new.entities if kind != "year")
    years = "".join(
        new.norm[a:b] + ("" if new.norm[a:b].endswith("年") else "年")
        for a, b, kind in new.entities
        if kind == "year"
    )
    question = prev.norm
    for a, b, _ in reversed(old):
        question = question[:a] + question[b:]
    return f"{fresh}{years}{question}"
