"""What a report says about itself, for every genre: labelled fields, document type, the
government behind a 政府工作报告, and the year it is about.

Reports arrive as exports with labelled fields (标题：… 发文单位：… 预算主管部门：…), as speeches
to a people's congress that open with 各位代表 and name their government only in 「我代表…人民
政府」 or the speaker's line, as annual reports whose title is split over two lines. This module
reads those conventions; `reportqa.ingest` combines them with what it finds in the title,
heading and signature.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from reportqa.normalize import normalize, to_simplified

# Labelled fields of exported pages: kept for the metadata, never part of the body.
LABELS = (
    "标题",
    "发文单位",
    "发文机关",
    "发布机构",
    "发文时间",
    "报告人",
    "预算主管部门",
    "来源URL",
    "正文",
    "时间",
    "阅读",
    "评论",
    "内容摘要",
    "信息发布人",
)
AGENCY_LABELS = ("发文单位", "发文机关", "发布机构", "预算主管部门")
_LABEL = re.compile(rf"^({'|'.join(LABELS)})\s*[:：]\s*(.*)$")

# The document types a report is filed under (shared/corpus/INDEX.tsv uses the same words).
GOV_WORK_REPORT = "政府工作报告"
RULE_OF_LAW_REPORT = "法治政府建设年度报告"
OPEN_INFO_REPORT = "政府信息公开年度报告"
SUMMARY = "工作总结"
KEY_POINTS = "工作要点"
PLAN = "工作计划"
STATISTICS = "统计公报"
OTHER = "其他"
# Words that make a line a document's title (its genre).
GENRE_WORDS = (
    "政府工作报告",
    "工作报告",
    "年度报告",
    "情况报告",
    "报告",
    "总结",
    "要点",
    "计划",
    "方案",
    "意见",
    "通知",
    "通告",
    "公告",
    "公报",
    "决定",
    "办法",
    "规定",
    "条例",
    "细则",
    "预算",
    "决算",
    "纲要",
    "发布会",
)

_PLACE = r"[\u4e00-\u9fff]{1,12}?(?:省|自治区|市|自治州|州|盟|地区|区|县|自治县|旗|新区)"
_LEVEL = r"(?:省|市|区|县|旗|州|盟)"
# 「我代表深圳市人民政府」「我代表县人民政府」「我代表区政府」
_ON_BEHALF = re.compile(rf"我代表({_PLACE})?(?:人民)?政府")
_ON_BEHALF_LEVEL = re.compile(rf"我代表({_LEVEL})(?:人民)?政府")
# 「徐水县人民政府县长李保森」「海拉尔区人民政府代区长」「报告人：保定市人民政府市长 于群」
_START = r"(?:(?<=[日在年度])|(?<![\u4e00-\u9fff\d]))"  # a place starts a word, or follows a date
_SPEAKER = re.compile(rf"{_START}({_PLACE})人民政府(?:代|副)?{_LEVEL}长")
# 「在阜平县第十六届人民代表大会第二次会议上」
_SESSION = re.compile(rf"{_START}({_PLACE})第[一二三四五六七八九十]+届人民代表大会")
_SESSION_LINE = re.compile(r"^[-—–－―\s]*(.{0,20}\d{4}\s*年.*?)?在?.{2,30}人民代表大会.{0,20}会议")
_REVIEW_YEAR = re.compile(r"((?:19|20)\d{2})\s*年(?:以来)?(?:的)?工作回顾")
_PLAN_YEAR = re.compile(
    r"((?:19|20)\d{2})\s*年(?:的)?(?:主要|重点)?(?:目标任务|工作安排|工作任务|工作部署|工作建议|重点工作)"
)
YEAR = re.compile(r"(?<!\d)((?:19[5-9]|20[0-9])\d)\s*年")  # a year as reports write it
_DASHES = "-—–－―"


def unescape(text: str) -> str:
    """Text exported from spreadsheets and pages: literal \\r\\n sequences become line breaks,
    HTML entities (&nbsp;) their characters, and runs of ? (characters an export could not
    encode) a space."""
    if text.count("\\r\\n") + text.count("\\n") >= 3:
        text = text.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\\t", " ")
    if re.search(r"&(?:nbsp|amp|lt|gt|quot|ensp|emsp|#\d{2,5});", text):
        text = html.unescape(text)
    return re.sub(r"\?{3,}|？{3,}", " ", text)


def labelled(lines: Iterable[str]) -> dict[str, str]:
    """The first value of each labelled field (标题：…) among `lines`."""
    out: dict[str, str] = {}
    for line in lines:
        m = _LABEL.match(line.strip())
        if m and m.group(2).strip() and m.group(1) not in out:
            out[m.group(1)] = m.group(2).strip()
    return out


def is_label_line(line: str) -> bool:
    return bool(_LABEL.match(line.strip()))


def has_genre(line: str) -> bool:
    simple = to_simplified(line)
    return any(w in simple for w in GENRE_WORDS)


def bare_genre(line: str) -> bool:
    """The title line of a speech that is only its genre: 「政 府 工 作 报 告」."""
    return re.sub(r"\s+", "", to_simplified(line)) in (GOV_WORK_REPORT, "工作报告")


def session_line(line: str) -> str | None:
    """「——2013年3月8日在阜平县第十六届人民代表大会第二次会议上」 without its dashes."""
    if _SESSION_LINE.match(line.strip()) and len(line) <= 80:
        return line.strip().lstrip(_DASHES + " ").strip("（）() ")
    return None


def drop_session_suffix(title: str) -> str:
    """「关于…纲要的报告——在保定市第十三届人民代表大会第四次会议上」 -> the title before the dash
    (kept whole when the genre comes after it: 「坚定信心…——在…会议上的政府工作报告」)."""
    for dash in ("——", "--", "―"):
        before, sep, after = title.partition(dash)
        if sep and has_genre(before) and not has_genre(after) and session_line(after):
            return before.strip()
    return title


def dated_session(session: str, head: list[str]) -> str:
    """A session line without its date takes the date the title block gives on a line of its
    own: 「在顺平县…会议上」 + 「（2008年3月27日）」 -> 「2008年3月27日在顺平县…会议上」."""
    if re.search(r"\d{4}\s*年", session):
        return session
    for line in head:
        m = re.fullmatch(
            r"[（(]?\s*((?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)\s*[）)]?", line.strip()
        )
        if m:
            return m.group(1) + session
    return session


def doc_type(title: str, text: str) -> str | None:
    """The document type from the title's genre words, else from how the text opens;
    None when neither says."""
    t = to_simplified(title)
    if t:
        if GOV_WORK_REPORT in t or ("管理委员会" in t and "工作报告" in t):
            return GOV_WORK_REPORT
        if "信息公开" in t and "报告" in t:
            return OPEN_INFO_REPORT
        if "要点" in t:
            return KEY_POINTS
        if "总结" in t:
            return SUMMARY
        if "法治" in t and ("报告" in t or "情况" in t):
            return RULE_OF_LAW_REPORT
        if "统计公报" in t:
            return STATISTICS
        if "计划" in t and "规划" not in t:
            return PLAN
        if has_genre(t):
            return OTHER
    head = to_simplified(text[:1500])
    if "各位代表" in head and re.search(r"工作回顾|向大会|工作安排|政府工作", head):
        return GOV_WORK_REPORT
    if _REVIEW_YEAR.search(normalize(head)):  # 「一、2018年工作回顾」 opens a government's report
        return GOV_WORK_REPORT
    if "信息公开" in head and "年度报告" in head:
        return OPEN_INFO_REPORT
    if to_simplified(text).count("法治政府") >= 3 and re.search(r"(报告|总结)如下", head):
        return SUMMARY if "总结如下" in head else RULE_OF_LAW_REPORT
    return OTHER if t else None


def government_place(title: str, head: list[str], text: str) -> tuple[str | None, str | None]:
    """For a 政府工作报告: (the place as the report writes it, or None; the level word when
    only that is given: 「我代表县人民政府」 -> 县). The title block speaks for the report
    first, then 「我代表…」, then the title's own place, then the body."""
    simple = to_simplified(text[:4000])
    for line in (to_simplified(x) for x in [title, *head]):
        m = _SPEAKER.search(line) or _SESSION.search(line)
        if m:
            return _strip_year(m.group(1)), None
    m = _ON_BEHALF.search(simple)
    if m and m.group(1):
        return _strip_year(m.group(1)), None
    m = re.search(rf"({_PLACE})(?:人民)?政府工作报告", to_simplified(title))
    if m:
        return _strip_year(m.group(1)), None
    level = _ON_BEHALF_LEVEL.search(simple)
    if level:
        return None, level.group(1)
    m = _SPEAKER.search(simple) or _SESSION.search(simple)
    return (_strip_year(m.group(1)), None) if m else (None, None)


def _strip_year(place: str) -> str:
    """「2021年保定市」 -> 保定市; 「2010年2月4日在徐水县」 -> 徐水县; 「年阜平县」 -> 阜平县."""
    place = re.sub(r"^(?:.*?\d{4}\s*年)?(?:\s*\d{1,2}\s*月)?(?:\s*\d{1,2}\s*日)?", "", place)
    place = re.sub(r"^(?:[年度月日]*在|[年度]+)", "", place)
    return place.removeprefix("在").removeprefix("关于")


def report_year(title: str, head: list[str], text: str, genre: str | None) -> int | None:
    """The year a report is about, as its title states it; for a 政府工作报告 without one,
    the year of the session it was given at, or the year after the one it reviews."""
    m = YEAR.search(normalize(title)) or re.search(r"(?<!\d)((?:19|20)\d{2})(?!\d)", title)
    if m:
        return int(m.group(1))
    if genre == GOV_WORK_REPORT:
        for line in head:
            sub = session_line(line)
            found = YEAR.search(normalize(sub)) if sub else None
            if found:
                return int(found.group(1))
        date = re.search(r"(?<!\d)((?:19|20)\d{2})\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日", text[:400])
        if date:
            return int(date.group(1))
        body = normalize(text[:40000])
        planned = [int(y) for y in _PLAN_YEAR.findall(body)]  # 「二、2016年工作安排」
        if planned:
            return max(planned)  # the latest year it plans for is the one it is for
        review = _REVIEW_YEAR.search(body)  # 「一、2018年工作回顾」: the year before it
        if review:
            return int(review.group(1)) + 1
    return None
