"""Raw report text -> Report: metadata, section tree, self-contained passages, no page debris.

Real reports arrive as saved web pages and copied text: navigation breadcrumbs, view counters
and print buttons around the text, lines broken in the middle of a sentence, headings inline
with their paragraph, traditional or simplified script. This module cleans that up while
keeping the display text in its original script and wording, detects the metadata (title,
agency, region, year, date, document type), and cuts the body into passages that follow the
report's own headings (一、 （一） 1. （1） 一是 第一，).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from reportqa import metadata
from reportqa.agencies import AGENCY_KINDS, agency_kind, canonical_name, short_names
from reportqa.models import Passage, Report, ReportQAError
from reportqa.normalize import normalize, to_simplified
from reportqa.places import Gazetteer, Place, gazetteer

MAX_PASSAGE = 320  # characters: longer paragraphs are split at sentence ends
MAX_PASSAGES = 20_000  # a report with more is no report (a provincial work report has ~150)
MIN_PASSAGE = 40  # shorter fragments are merged with a neighbour of the same section
TITLE_MAX = 80

_CN_NUM = "一二三四五六七八九十百零〇"
_TERMINAL = "。！？!?；;：:…”」』）)"
_HEADING_PATTERNS = (  # (level, pattern of the numbering at the start of a line)
    (1, re.compile(rf"^[{_CN_NUM}]+\s*[、.．]")),
    (2, re.compile(rf"^[（(]\s*[{_CN_NUM}]+\s*[）)]")),
    (3, re.compile(r"^\d{1,2}\s*[、.．](?!\d)")),
    (4, re.compile(r"^[（(]\s*\d{1,2}\s*[）)]")),
)
_ENUM = re.compile(
    rf"(?:(?<=^)|(?<=[。；;！？]))\s*((?:[{_CN_NUM}]+是)|(?:第[{_CN_NUM}]+[，,、：:]))"
)
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
_YEAR = metadata.YEAR
_DATE_CN = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DATE_ISO = re.compile(r"(?<!\d)((?:19|20)\d{2})[-/.](\d{1,2})[-/.](\d{1,2})")
_META_LABEL = re.compile(
    r"(发布日期|發布日期|发布时间|發布時間|成文日期|信息来源|信息來源|来源|來源|文号|文號|时间|時間|"
    r"索引号|索引號|浏览次数|瀏覽次數|点击数|點擊數|访问量|訪問量|作者|字号|字號|责任编辑|責任編輯)"
    r"\s*[:：]"
)
_META_KEEP = re.compile(
    r"^(发布日期|發布日期|发布时间|發布時間|成文日期|信息来源|信息來源|文号|文號|时间|時間)"
)
_DEBRIS = re.compile(
    r"^(当前位置|當前位置|您的位置|您现在的位置|所在位置|首页\s*[>›»]|首頁\s*[>›»]|[>›»])|"
    r"(打印本页|打印本頁|关闭窗口|關閉窗口|【关闭】|【關閉】|【打印】|Produced By|"
    r"版权所有|版權所有|"
    r"ICP备|ICP備|技术支持|技術支持|网站地图|網站地圖|联系我们|聯繫我們|分享到|扫一扫|掃一掃)",
    re.IGNORECASE,
)
_LONE_BUTTONS = frozenset(
    {
        "打印",
        "关闭",
        "關閉",
        "返回",
        "顶部",
        "頂部",
        "返回顶部",
        "返回頂部",
        "上一篇",
        "下一篇",
        "收藏",
        "分享",
        "[ ]",
        "字号",
        "大",
        "中",
        "小",
    }
)
_SELF = re.compile(r"(?:我|本)(局|委|办|厅|院|府)")
_KEEP_LABELS = ("标题", "发文单位", "发文机关", "发布机构", "发文时间", "报告人", "预算主管部门")
_CJK = re.compile(r"[\u4e00-\u9fff]")


class IngestFailed(ReportQAError):
    """A file that cannot be turned into a report; the message names the file."""


@dataclass
class Overrides:
    """Metadata given by the admin; each wins over what is detected."""

    agency: str | None = None
    year: int | None = None
    title: str | None = None
    doc_type: str | None = None
    report_id: str | None = None


@dataclass
class IngestResult:
    report: Report
    needs_flag: list[str] = field(default_factory=list)  # fields that could not be detected


@dataclass
class _Para:
    section: tuple[str, ...]
    text: str
    label: str = ""  # an enumeration item (一是…) inside the section, if the text starts one

    @property
    def path(self) -> tuple[str, ...]:
        return self.section + ((self.label,) if self.label else ())


def ingest_text(text: str, source_file: str, overrides: Overrides | None = None) -> IngestResult:
    """Turn the text of one report into a Report, detecting what the admin did not give."""
    overrides = overrides or Overrides()
    text = metadata.unescape(text)
    lines = [_clean_line(line) for line in text.split("\n")]
    fields = metadata.labelled(lines)  # 标题：… 发文单位：… of exported pages
    meta_lines, head, paras, tail = _layout(lines, source_file)
    gaz = gazetteer()
    needs: list[str] = []

    title = overrides.title or _detect_title(head, paras, fields, text)
    if not title:
        needs.append("title")
    doc_type = overrides.doc_type or metadata.doc_type(title or "", text)
    if not doc_type:
        needs.append("doc_type")
    published = _detect_date(meta_lines, tail)
    year = overrides.year or _detect_year(title or "", head, text, doc_type, fields, published)
    if year is None:
        needs.append("year")
    given = overrides.agency or next(
        (fields[k] for k in metadata.AGENCY_LABELS if k in fields), None
    )
    agency, place = _detect_issuer(given, doc_type, title or "", lines, head, tail, text, gaz)
    if not agency:
        needs.append("agency")
    kind = agency_kind(normalize(agency)) if agency else None
    shorts = short_names(kind, place, gaz) if kind else ()
    region = tuple(p.name for p in gaz.chain(place)) if place else ()

    report_id = overrides.report_id or report_id_for(source_file)
    info = _info_passage(title, meta_lines, head, tail)
    if not title:  # cited by it, but still flagged: the admin is asked for the real one
        title = inferred_title(agency, year, doc_type)
    passages = _passages(report_id, ([info] if info else []) + paras)
    if len(passages) > MAX_PASSAGES:
        raise IngestFailed(_too_many(source_file))
    report = Report(
        report_id=report_id,
        title=title or "",
        agency=agency or "",
        year=year,
        doc_type=doc_type or "",
        source_file=Path(source_file).name,
        passages=tuple(passages),
        agency_short=shorts,
        region=region,
        published=published,
        script=_script(text),
    )
    return IngestResult(report, needs)


def _layout(
    lines: list[str], source_file: str
) -> tuple[list[str], list[str], list[_Para], list[str]]:
    """The page's debris lines, the front matter, the body's paragraphs and the signature."""
    meta_lines, body = _split_debris(lines)
    if not any(_CJK.search(line) for line in body):
        raise IngestFailed(f"{source_file}: 没有找到中文正文，这不像一份报告")
    head, body = _split_front_matter(body)
    tail, body = _split_signature(body)
    paras = _paragraphs(body)
    if not paras:
        raise IngestFailed(f"{source_file}: 没有找到正文段落")
    if len(paras) > MAX_PASSAGES:
        raise IngestFailed(_too_many(source_file))
    return meta_lines, head, paras, tail


def _detect_year(
    title: str,
    head: list[str],
    text: str,
    doc_type: str | None,
    fields: dict[str, str],
    published: str | None,
) -> int | None:
    """The year the report is about: its title or opening first, its date line last."""
    return (
        metadata.report_year(title, head, text, doc_type)
        or _year_of(fields.get("发文时间"))
        or (_year_of(published) if doc_type == metadata.OTHER else None)
        or _most_named_year(text)
    )


def _detect_issuer(
    given: str | None,
    doc_type: str | None,
    title: str,
    lines: list[str],
    head: list[str],
    tail: list[str],
    text: str,
    gaz: Gazetteer,
) -> tuple[str | None, Place | None]:
    """The issuing agency and its place; `given` is what the admin or the page's labels said."""
    government = None
    if given is None and doc_type == metadata.GOV_WORK_REPORT:
        government = _government(title, head, text, gaz)
    if government is not None:  # as the report writes it: no canonical renaming
        return government, _place_of(government, text, gaz)
    if given is None:
        given = _source_agency(lines[:40], gaz) or _legislature(title, gaz)
    return _detect_agency(given, title, head + tail, text, gaz)


def inferred_title(agency: str | None, year: int | None, doc_type: str | None) -> str | None:
    """A title in the usual form, for a report whose text has no title line: 容城县2019年政府
    工作报告 (a 政府工作报告 is the place's, not its 人民政府's), 深圳市光明区人民政府2021年
    法治政府建设年度报告. None when the agency, year or a genre is not known."""
    if not agency or not year or not doc_type or doc_type == metadata.OTHER:
        return None
    if doc_type == metadata.GOV_WORK_REPORT:
        agency = agency.removesuffix("人民政府")
    return f"{agency}{year}年{doc_type}"


def _too_many(source_file: str) -> str:
    return f"{source_file}: 段落超过 {MAX_PASSAGES} 段，不像一份报告；请拆分成几份后分别导入"


def report_id_for(source_file: str) -> str:
    """A stable id from the file name: ASCII letters, digits, '-' and '_' only. A name with
    other characters (宁波市财政局2021年总结.txt) adds a hash of the whole name, so two Chinese
    file names never share an id."""
    stem = Path(source_file).stem
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_").lower()[:48]
    if stem.isascii() and len(slug) >= 3:
        return slug
    digest = hashlib.sha1(stem.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}" if slug else f"r-{digest}"


# ---------------------------------------------------------------- lines and debris


def _clean_line(line: str) -> str:
    line = line.replace("\u3000", " ").replace("\xa0", " ").replace("\t", " ")
    return re.sub(r" {2,}", "  ", line).strip()


def _is_debris(line: str) -> bool:
    if line in _LONE_BUTTONS:
        return True
    if not _CJK.search(line):  # GOVERNMENT INFORMATION, "> >", lone numbers
        # but not the end of a sentence broken over lines: "hzzwgk@126.com）。"
        return len(line) < 60 and not re.search(r"[。；）]$|@|\d{3,4}-\d{7,8}", line)
    if _DEBRIS.search(line) and len(line) < 120:
        return True
    return bool(re.fullmatch(r"[>›»\s\w]*[>›»][>›»\s\w]*", line)) and len(line) < 60


def _split_debris(lines: list[str]) -> tuple[list[str], list[str]]:
    """Separate page debris (dropped), metadata fields (kept for the info passage) and body."""
    meta: list[str] = []
    body: list[str] = []
    for line in lines:
        if not line:
            body.append("")
            continue
        if metadata.is_label_line(line) and not _META_LABEL.search(line):
            if line.startswith(_KEEP_LABELS):
                meta.append(line)
            continue
        labels = _META_LABEL.findall(line)
        if labels and (len(labels) >= 2 or len(line) < 40):
            meta.extend(_meta_fields(line))
            continue
        if re.match(r"^(附件|附件\d)\s*[:：]", line) and len(line) < 80:
            meta.append(line)
            continue
        if not _is_debris(line):
            body.append(line)
    return meta, body


def _meta_fields(line: str) -> list[str]:
    """'发布日期:2021-01-25  浏览次数: 信息来源:市科学技术局' -> the fields worth keeping."""
    starts = [m.start() for m in _META_LABEL.finditer(line)] + [len(line)]
    fields = [line[a:b].strip() for a, b in pairwise(starts)]
    return [f for f in fields if _META_KEEP.match(f) and re.search(r"[:：]\s*\S", f)]


def _split_front_matter(lines: list[str]) -> tuple[list[str], list[str]]:
    """Title block: the short unpunctuated lines before the first real paragraph or heading."""
    head: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        if _heading_level(line) or len(line) > TITLE_MAX or line[-1] in "。；;！？：:":
            break
        if "。" in line:
            break
        if len(head) >= 4:
            break
        head.append(line)
        i += 1
    # A notice (关于印发…的通知) repeats its own title before the body it prints: keep only
    # what comes after the title block's addressee/date lines.
    return head, lines[i:]


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    """The signature at the end: agency name and date lines."""
    tail: list[str] = []
    end = len(lines)
    while end > 0:
        line = lines[end - 1]
        if not line:
            end -= 1
            continue
        if len(line) <= 30 and line[-1] not in _TERMINAL and len(tail) < 4:
            tail.insert(0, line)
            end -= 1
            continue
        break
    return tail, lines[:end]


# ---------------------------------------------------------------- structure


def _heading_level(line: str) -> int:
    for level, pattern in _HEADING_PATTERNS:
        if pattern.match(line):
            return level
    return 0


def _paragraphs(lines: list[str]) -> list[_Para]:
    """Join broken lines, follow the headings, and return the body paragraphs."""
    joined = _join_lines(lines)
    path: list[tuple[int, str]] = []
    paras: list[_Para] = []
    for line in joined:
        level = _heading_level(line)
        if level:
            heading, rest = _split_inline_heading(line)
            path = [p for p in path if p[0] < level] + [(level, heading)]
            if not rest:
                continue
            paras.append(_Para(tuple(h for _, h in path), line))
            continue
        if _looks_like_heading(line):
            path = [p for p in path if p[0] < 5] + [(5, line)]
            continue
        paras.append(_Para(tuple(h for _, h in path), line))
    return paras


def _join_lines(lines: list[str]) -> list[str]:
    """Lines broken mid-sentence (even across blank lines) are joined; headings stay alone."""
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        if out and _continues(out[-1], line):
            sep = " " if _latin_edge(out[-1][-1]) and _latin_edge(line[0]) else ""
            out[-1] = out[-1] + sep + line
        else:
            out.append(line)
    return out


def _continues(prev: str, line: str) -> bool:
    if _heading_level(line) or prev[-1] in _TERMINAL:
        return False
    if _unbalanced(prev):
        return True  # 《省经信厅重大行政 | 决策制度》: a quotation cut by the line break
    if _heading_level(prev) and len(_split_inline_heading(prev)[0]) == len(prev.rstrip("。")):
        return False  # a heading line on its own
    return len(prev) >= 25  # a short unpunctuated line is a heading, not a broken sentence


def _unbalanced(text: str) -> bool:
    return any(text.count(a) > text.count(b) for a, b in ("《》", "“”", "（）", "()", "「」"))


def _latin_edge(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _looks_like_heading(line: str) -> bool:
    return len(line) <= 30 and line[-1] not in _TERMINAL and "，" not in line and "," not in line


def _split_inline_heading(line: str) -> tuple[str, str]:
    """'(一)依法全面履行政府职能情况。一是…' -> ('(一)依法全面履行政府职能情况', '一是…')."""
    m = re.search(r"[。；;：:]", line)
    if m and m.start() <= 40 and line[m.end() :].strip():
        return line[: m.start()].strip(), line[m.end() :].strip()
    if m and m.start() <= 40:
        return line[: m.start()].strip(), ""
    if len(line) <= 40:
        return line, ""
    enum = re.search(rf"[{_CN_NUM}]是", line[:42])  # (二)完善依法行政制度体系一是加强…
    if enum and enum.start() >= 4:
        return line[: enum.start()].strip(), line
    clause = re.split(r"[，,]", line, maxsplit=1)[0]
    return clause[:24].strip(), line


def _passages(report_id: str, paras: list[_Para]) -> list[Passage]:
    """Split long paragraphs at sentence ends (and 一是/二是), merge short fragments into a
    neighbour of the same section (the next one first: a lone heading sentence belongs to
    what follows it)."""
    pieces = [
        _Para(para.section, chunk, _enum_label(chunk))
        for para in paras
        for chunk in _split_long(para.text)
    ]
    merged: list[_Para] = []
    carry: _Para | None = None
    for piece in pieces:
        if carry is not None:
            if carry.section == piece.section and piece.section[:1] != ("文件信息",):
                piece = _Para(piece.section, carry.text + piece.text, carry.label or piece.label)
            else:
                merged.append(carry)
            carry = None
        if len(piece.text) < MIN_PASSAGE and piece.section[:1] != ("文件信息",):
            prev = merged[-1] if merged else None
            if prev is not None and prev.section == piece.section and len(prev.text) < MAX_PASSAGE:
                merged[-1] = _Para(prev.section, prev.text + piece.text, prev.label)
            else:
                carry = piece
            continue
        merged.append(piece)
    if carry is not None:
        merged.append(carry)
    return _with_ids(report_id, merged)


def _split_long(text: str) -> list[str]:
    """A long paragraph is cut between its enumeration items (一是…二是…), then at sentence
    ends; a short one stays whole, since its items depend on each other's context."""
    if len(text) <= MAX_PASSAGE:
        return [text]
    sentences = [s for s in _SENTENCE_END.split(text) if s]
    units: list[str] = []  # enumeration items (一是…) start a new unit
    for s in sentences:
        if units and not _ENUM.match(s):
            units[-1] += s
        else:
            units.append(s)
    chunks: list[str] = []
    for unit in units:
        parts = [s for s in _SENTENCE_END.split(unit) if s]
        current = ""
        for s in parts:
            if current and len(current) + len(s) > MAX_PASSAGE:
                chunks.append(current)
                current = ""
            current += s
        if current:
            chunks.append(current)
    return chunks


def _enum_label(chunk: str) -> str:
    m = _ENUM.match(chunk)
    if not m:
        return ""
    first = re.split(r"[。；;]", chunk, maxsplit=1)[0]
    if len(first) > 30:
        first = re.split(r"[，,]", first, maxsplit=1)[0][:30]
    return first.strip()


def _with_ids(report_id: str, paras: list[_Para]) -> list[Passage]:
    """Ids from the passage's content, so editing one passage leaves the others' ids alone."""
    seen: Counter[str] = Counter()
    out = []
    for para in paras:
        digest = hashlib.sha1(normalize(para.text).encode("utf-8")).hexdigest()[:8]
        seen[digest] += 1
        suffix = f"-{seen[digest]}" if seen[digest] > 1 else ""
        out.append(Passage(f"{report_id}-{digest}{suffix}", para.path, para.text))
    return out


def _info_passage(
    title: str | None, meta: list[str], head: list[str], tail: list[str]
) -> _Para | None:
    """Title, publication date, source and attachments as a passage of their own."""
    parts: list[str] = []
    for line in [*head, *meta, *tail]:
        if all(normalize(line) != normalize(p) for p in parts):
            parts.append(line)
    if title and not any(normalize(title) in normalize(p) for p in parts):
        parts.insert(0, title)
    if not parts:
        return None
    text = "\n".join(parts)
    return _Para(("文件信息",), text)


# ---------------------------------------------------------------- metadata


def _detect_title(
    head: list[str], paras: list[_Para], fields: dict[str, str], text: str
) -> str | None:
    """The document's own title: a 标题 field; the first line of the title block that names a
    genre (with the agency line above it when the title is split: 洪泽区人民政府 / 2023 年政府
    信息公开工作年度报告); a speech's bare 「政府工作报告」 with its session line; the session
    line alone when the text is such a speech; or 「现将…总结如下」."""
    if fields.get("标题"):
        return metadata.drop_session_suffix(_tidy_title(fields["标题"]))
    for i, line in enumerate(head):
        if metadata.has_genre(line) and len(_tidy_title(line)) >= 8:
            title = metadata.drop_session_suffix(_tidy_title(_name_lines_before(head, i) + line))
            if fields.get("预算主管部门"):  # one budget title serves many departments
                title += f"（预算主管部门：{fields['预算主管部门']}）"
            return title
    sessions = [metadata.dated_session(s, head) for s in map(metadata.session_line, head) if s]
    for line in head:
        if metadata.bare_genre(line) and (sessions or "政府" in to_simplified(line)):
            genre = _tidy_title(line)
            return f"{genre}（{_tidy_title(sessions[0])}）" if sessions else genre
    if sessions and metadata.doc_type("", text) == metadata.GOV_WORK_REPORT:
        return f"{metadata.GOV_WORK_REPORT}（{_tidy_title(sessions[0])}）"
    for para in paras[:3]:  # "现将2023年度法治政府建设工作总结如下", not "现将有关情况报告如下"
        m = re.search(
            r"现将(.{6,40}?(?:总结|报告|要点|计划))(?:报告)?如下", to_simplified(para.text)
        )
        if m and not m.group(1).startswith(("有关", "相关", "主要", "具体", "以上", "上述")):
            start = to_simplified(para.text).index(m.group(1))
            return _tidy_title(para.text[start : start + len(m.group(1))])
    return None


_NAME_END = re.compile(
    r"(人民政府|政府|局|委员会|委|办公室|办公厅|厅|院|中心|办事处|省|市|区|县|旗)$"
)


def _name_lines_before(head: list[str], i: int) -> str:
    """The lines right above head[i] that together name an agency or place (a title broken
    over lines: 上海市普陀区规划和自然 / 资源局 / 2024 年度部门决算), or ''."""
    start = i
    while start > 0 and i - start < 3:
        line = head[start - 1]
        if metadata.has_genre(line) or len(line) > 24 or re.search(r"\d", line):
            break
        start -= 1
    joined = _tidy_title("".join(head[start:i]))
    if joined and (_NAME_END.search(normalize(joined)) or head[i].lstrip().startswith("第")):
        return joined  # an agency's name, or the start of a title whose line begins 第…
    return ""


def _government(title: str, head: list[str], text: str, gaz: Gazetteer) -> str | None:
    """The 人民政府 a 政府工作报告 comes from, as its text names it (the place as written:
    清苑县 in 2005, although it is 清苑区 today); a district keeps its city before it."""
    written, level = metadata.government_place(title, head, text)
    if written is None and level is not None:
        written = _most_named_place(text, gaz, level)
    if not written:
        return None
    written = normalize(written)
    if written.endswith(("区", "新区")) and not _has_city(written, gaz):
        city = _city_of(written, text, gaz)
        if city and not written.startswith(city):
            written = city + written
    return written + "人民政府"


def _source_agency(lines: list[str], gaz: Gazetteer) -> str | None:
    """A page's 来源 field when it names a whole agency (来源：郑州市司法局), not a site."""
    for line in lines:
        m = re.search(
            r"(?:^|\s)(?:信息)?来源\s*[:：]\s*([\u4e00-\u9fff]{4,30})", to_simplified(line)
        )
        if m and agency_kind(normalize(m.group(1))) and gaz.find(normalize(m.group(1))):
            return m.group(1)
    return None


def _legislature(title: str, gaz: Gazetteer) -> str | None:
    """A local regulation (…市…条例) is passed by that place's people's congress standing
    committee."""
    simple = normalize(title)
    if not simple.endswith("条例") and not re.search(r"条例[（(]", simple):
        return None
    places = [p for _, _, cands in gaz.find(simple) if len(cands) == 1 for p in cands]
    return places[0].name + "人民代表大会常务委员会" if places else None


def _place_of(agency: str, text: str, gaz: Gazetteer) -> Place | None:
    """The gazetteer's place for an agency name written out (its most specific place)."""
    found = [p for _, _, cands in gaz.find(normalize(agency)) for p in cands]
    return max(found, key=lambda p: p.level) if found else _main_place(text, gaz)


def _has_city(name: str, gaz: Gazetteer) -> bool:
    """Whether a district's name already starts with its city (深圳市光明区)."""
    return any(
        p.level <= 1 and name.startswith(n) and len(n) < len(name)
        for _, n, cands in gaz.find(name)
        for p in cands
    )


def _city_of(district: str, text: str, gaz: Gazetteer) -> str | None:
    """The city a district belongs to: the gazetteer's, else the city the text names most."""
    simple = normalize(text[:20000])
    cities = []
    for _, name, cands in gaz.find(district):
        for cand in cands if name == district else []:
            chain = gaz.chain(cand)
            city = next((p.name for p in chain if p.level == 1 or _is_city(p)), None)
            if city:
                cities.append(city)
    named = [c for c in cities if c in simple or c.removesuffix("市") in simple]
    if named:
        return named[0]
    named_city = _named_city(simple, gaz)
    if named_city:
        return named_city  # a district the gazetteer does not know, or knows elsewhere
    return cities[0] if cities else None


def _named_city(simple: str, gaz: Gazetteer) -> str | None:
    """The city the text names most often by its own name (not through its districts)."""
    counts: Counter[str] = Counter()
    for _, _, cands in gaz.find(simple):
        if len(cands) == 1 and (cands[0].level == 1 or _is_city(cands[0])):
            counts[cands[0].name] += 1
    return counts.most_common(1)[0][0] if counts else None


def _is_city(place: Place) -> bool:
    return place.level == 0 and place.name.endswith("市")


def _most_named_place(text: str, gaz: Gazetteer, level: str) -> str | None:
    """The place of this level word (省/市/区/县) the text names most often by its full name (a
    two-character one such as 范县 only where no word runs into it: not in 示范县). Short forms
    count only when no full name is written and one place's short form dominates: many short
    forms are ordinary words (新建) or parts of other names (雄安新区)."""
    simple = normalize(text[:20000])
    found = gaz.find(simple)
    full: Counter[str] = Counter()
    for pos, name, cands in found:
        for p in cands:
            if p.name != name or not name.endswith(level) or len(cands) != 1:
                continue
            if len(name) > 2 or pos == 0 or simple[pos - 1] in _BEFORE_SHORT_NAME:
                full[name] += 1
    if full:
        return full.most_common(1)[0][0]
    short = Counter(
        cands[0].name
        for _, name, cands in found
        if len(cands) == 1 and cands[0].name != name and cands[0].name.endswith(level)
    ).most_common(2)
    if short and short[0][1] >= 5 and (len(short) == 1 or short[0][1] >= 3 * short[1][1]):
        return short[0][0]  # 坪山 said 71 times, the ordinary word 新建 13
    if level == "省":
        main = _main_place(text, gaz)
        chain = gaz.chain(main) if main is not None else []
        return chain[0].name if chain and chain[0].name.endswith("省") else None
    return None


_BEFORE_SHORT_NAME = frozenset('在于和与及、，。；：（(“"《 省市州区盟全我本该')


def _year_of(date: str | None) -> int | None:
    m = re.match(r"((?:19|20)\d{2})", date or "")
    return int(m.group(1)) if m else None


def _tidy_title(line: str) -> str:
    """Drop spaces inside Chinese text (titles broken across lines)."""
    return re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", line).strip()


def _most_named_year(text: str) -> int | None:
    """The year the body names most often (the title's year is metadata.report_year's)."""
    body = re.sub(r"《[^》]*》", "", normalize(text))  # years inside cited titles don't count
    years = Counter(int(y) for y in _YEAR.findall(body))
    return years.most_common(1)[0][0] if years else None


def _detect_date(meta: list[str], tail: list[str]) -> str | None:
    for line in [*meta, *reversed(tail)]:
        simple = normalize(line)
        m = _DATE_ISO.search(simple) or _DATE_CN.search(simple)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            if 1 <= mo <= 12 and 1 <= d <= 31:
                return f"{y:04d}-{mo:02d}-{d:02d}"
    return None


def _script(text: str) -> str:
    cjk = _CJK.findall(text)
    changed = sum(1 for a, b in zip(text, to_simplified(text), strict=False) if a != b)
    return "traditional" if cjk and changed / len(cjk) > 0.02 else "simplified"


@dataclass(frozen=True)
class _Candidate:
    name: str  # normalised
    kind: str
    place: Place | None
    weight: float


def _detect_agency(
    given: str | None, title: str, edges: list[str], text: str, gaz: Gazetteer
) -> tuple[str | None, Place | None]:
    """The report's own agency, canonical: from the title, heading and signature lines, and
    the body's mentions of an agency of the kind it calls itself (我局 -> a 局)."""
    main_place = _main_place(text, gaz)
    if given:
        cand = _mentions(normalize(given), gaz, 1.0)
        place = cand[0].place if cand and cand[0].place else main_place
        kind = agency_kind(normalize(given))
        if kind and cand:
            return canonical_name(kind, place, gaz), place
        return given.strip(), place
    simple = normalize(text)
    self_refs = Counter(_SELF.findall(simple))
    suffix = self_refs.most_common(1)[0][0] if self_refs else None
    scores: dict[tuple[str, str | None], float] = {}
    places: dict[tuple[str, str | None], Place | None] = {}
    sources = [(normalize(title), 5.0), *((normalize(e), 4.0) for e in edges), (simple, 1.0)]
    for chunk, weight in sources:
        for c in _mentions(chunk, gaz, weight):
            if suffix and not _ends_with_suffix(c.kind, suffix):
                continue
            key = (c.kind, c.place.code if c.place else None)
            scores[key] = scores.get(key, 0.0) + c.weight
            places[key] = c.place
    titled = [p for _, _, cands in gaz.find(normalize(title)) if len(cands) == 1 for p in cands]
    if titled:  # 临沂市文明乡村条例: the place the title names is the report's own
        main_place = max(titled, key=lambda p: p.level)
    if not scores:
        return None, main_place
    # Mentions without a place borrow the report's main place; merge them with placed ones.
    merged: dict[str, float] = {}
    for (kind, _), score in scores.items():
        merged[kind] = merged.get(kind, 0.0) + score
    kind = max(merged, key=lambda k: merged[k])
    placed = [(score, key) for key, score in scores.items() if key[0] == kind and key[1]]
    place = places[max(placed)[1]] if placed else main_place
    if place is not None and place.level == 2 and place.name.endswith("区"):
        city = _city_of(place.name, text, gaz)  # 龙华区 is in 海口 and (not listed) in 深圳
        if city and city not in {p.name for p in gaz.chain(place)}:
            return city + place.name + kind, place  # the place keeps the district's name
    return canonical_name(kind, place, gaz), place


def _ends_with_suffix(kind: str, suffix: str) -> bool:
    tail = kind.removesuffix("员会").removesuffix("公室").removesuffix("公厅")
    return kind.endswith(suffix) or tail.endswith(suffix)


def _mentions(text: str, gaz: Gazetteer, weight: float) -> list[_Candidate]:
    """Agency names in text: an optional place, an optional level word, a kind of agency.
    Longest names win: 发展改革和经济信息化局 is not also an 经济信息化局."""
    found: list[tuple[int, int, str, str]] = []
    for kind, forms in _kind_forms():
        for form in forms:
            start = text.find(form)
            while start != -1:
                found.append((start, start + len(form), kind, form))
                start = text.find(form, start + len(form))
    found.sort(key=lambda f: (f[0] - f[1], f[0]))
    taken: list[tuple[int, int]] = []
    places = gaz.find(text)
    out: list[_Candidate] = []
    for start, end, kind, form in found:
        if any(a < end and start < b for a, b in taken):
            continue
        taken.append((start, end))
        if not _is_object_mention(text, start):
            out.append(_Candidate(form, kind, _place_before(start, places), weight))
    return out


def _is_object_mention(text: str, start: int) -> bool:
    """区司法局 inside a list of responsible units (责任单位:区司法局) names another agency."""
    return "责任单位" in text[max(0, start - 30) : start]


def _place_before(start: int, places: list[tuple[int, str, list[Place]]]) -> Place | None:
    """The place named right before an agency word ('上城区' + '发展改革…局')."""
    best = None
    for pos, name, cands in places:
        end = pos + len(name)
        if end <= start and start - end <= 1 and cands:
            best = max(cands, key=lambda p: p.level)
            # the city right before a district: 舟山市普陀区 -> keep the district
    return best


_KIND_FORMS: list[tuple[str, tuple[str, ...]]] = []


def _kind_forms() -> Iterable[tuple[str, tuple[str, ...]]]:
    if not _KIND_FORMS:
        for kind, shorts in AGENCY_KINDS.items():
            forms = tuple(
                sorted({kind, *(s for s in shorts if len(s) >= 3)}, key=len, reverse=True)
            )
            _KIND_FORMS.append((kind, forms))
    return _KIND_FORMS


def _main_place(text: str, gaz: Gazetteer) -> Place | None:
    """The city (or province-level city) a report is about: the one named most often."""
    counts: Counter[str] = Counter()
    for _, _, cands in gaz.find(normalize(text)):
        if len(cands) != 1:
            continue
        chain = gaz.chain(cands[0])
        top = next((p for p in chain if p.level == 1), chain[0])
        counts[top.code] += 1
    if not counts:
        return None
    return gaz.by_code[counts.most_common(1)[0][0]]
