"""Government agency names: the kinds of agency, their short forms, and how to match them.

A Chinese agency name is a place plus a kind of agency: 舟山市 + 经济和信息化局. The kinds and the
short forms people use for them (经信局, 科技局, 发改委 ...) are general knowledge of China's
administration, listed once here; nothing in this table is specific to one report or question.
A short form that is not listed still matches a full name when its characters appear in the
same order and it starts with the same character (经济信息化委 -> 经济和信息化委员会).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from reportqa.places import Gazetteer, Place, first_char_lengths

# Kind of agency -> short forms. Kinds are the official suffixes of agency names: one kind a
# line, then its short forms.
_KINDS = """
经济和信息化委员会 经信委 经济信息化委 经委
经济和信息化局 经信局 经济信息化局
经济和信息化厅 经信厅 经济信息化厅
发展改革和经济信息化局 发改局 发改经信局 发展改革局
发展和改革委员会 发改委 发展改革委
发展和改革局 发改局 发展改革局
科学技术局 科技局
科学技术厅 科技厅
科学技术委员会 科委 科技委
人民政府办公室 政府办 政府办公室
人民政府办公厅 政府办公厅
人民政府
人民政府新闻办公室 政府新闻办 新闻办
人民代表大会常务委员会 人大常委会
规划和自然资源局 规划资源局 规土局
公安局 公安局
司法局 司法局
财政局 财政局
教育局 教育局
教育委员会 教委
民政局 民政局
审计局 审计局
统计局 统计局
商务局 商务局
商务委员会 商务委
水利局 水利局
林业局 林业局
体育局 体育局
信访局 信访局
税务局 税务局
档案局 档案局
人力资源和社会保障局 人社局 人力社保局
自然资源和规划局 自然资源局 资规局 规划资源局
住房和城乡建设局 住建局
住房和城乡建设委员会 住建委
交通运输局 交通局
交通委员会 交通委
农业农村局 农业局 农业农村局
文化和旅游局 文旅局 文化旅游局
文化广电旅游局 文广旅局 文旅局
卫生健康委员会 卫健委
卫生健康局 卫健局
市场监督管理局 市场监管局 市监局
生态环境局 生态环境局 环保局 环境局
应急管理局 应急局
退役军人事务局 退役军人局
医疗保障局 医保局
大数据发展管理局 大数据局
数据资源管理局 数据局 数据资源局
综合行政执法局 综合执法局 执法局
城市管理局 城管局
人民防空办公室 人防办
行政审批局 审批局
政务服务管理办公室 政务服务办 政务办
机关事务管理局 机关事务局
国有资产监督管理委员会 国资委
民族宗教事务局 民宗局
外事办公室 外办
港航和口岸管理局 港航局
海洋与渔业局 海洋渔业局 海渔局
人民法院 法院
人民检察院 检察院
"""
AGENCY_KINDS: dict[str, tuple[str, ...]] = {
    line.split()[0]: tuple(line.split()[1:]) for line in _KINDS.strip().splitlines()
}
_LEVEL_WORD = ("省", "市", "区")  # how a report's own text calls its level: 市经信局, 区发改局
_PRONOUNS = re.compile(r"^(我|本|该|全)")


@dataclass(frozen=True, slots=True)
class AgencyMention:
    """An agency named in a question: the words used and the kinds they can mean."""

    text: str
    kinds: frozenset[str]
    start: int
    end: int


def agency_kind(name: str) -> str | None:
    """The kind of agency a full or short name ends with (longest listed kind first)."""
    for kind in sorted(AGENCY_KINDS, key=len, reverse=True):
        if name.endswith(kind):
            return kind
    for kind, shorts in AGENCY_KINDS.items():
        if any(name.endswith(s) for s in shorts):
            return kind
    for kind in AGENCY_KINDS:
        body = _strip_level(name)
        if len(body) >= 3 and is_abbreviation(body, kind):
            return kind
    return None


_KIND_SUFFIXES = ("委员会", "局", "厅", "委")  # not 办公室: a 政府办 is not its 政府


def kind_stem(kind: str) -> str:
    """A kind without its 局/委员会/厅 ending: 科学技术局 and 科学技术委员会 share 科学技术."""
    for suffix in _KIND_SUFFIXES:
        if kind.endswith(suffix) and len(kind) >= len(suffix) + 2:
            return kind[: -len(suffix)]
    return kind


def close_kinds(a: str, b: str) -> bool:
    """Two kinds that name the same field under another form (委 for 局, an older name)."""
    return a != b and kind_stem(a) == kind_stem(b) and kind_stem(a) != a


def is_abbreviation(short: str, full: str) -> bool:
    """True when `short` is an in-order character subsequence of `full` with the same first
    and last character (委 also ends 委员会, 办 ends 办公室)."""
    if not short or short[0] != full[0]:
        return False
    tail = full.removesuffix("员会").removesuffix("公室")
    if short[-1] not in (full[-1], tail[-1]):
        return False
    it = iter(full)
    return all(ch in it for ch in short)


def _strip_level(name: str) -> str:
    return name[1:] if name[:1] in _LEVEL_WORD else name


def canonical_name(kind: str, place: Place | None, gaz: Gazetteer) -> str:
    """舟山市 + 经济和信息化局; 杭州市上城区 + 发展改革和经济信息化局 (city before district)."""
    if place is None:
        return kind
    chain = gaz.chain(place)
    names = [p.name for p in chain if p.level > 0 or len(chain) == 1 or _is_municipality(p)]
    if place.level == 2 and not place.name.endswith("区"):
        names = [place.name]  # a county (县, 旗, county-level 市) is named without its city
    return "".join(names) + kind


def _is_municipality(place: Place) -> bool:
    return place.level == 0 and place.name.endswith("市")


def short_names(kind: str, place: Place | None, gaz: Gazetteer) -> tuple[str, ...]:
    """The short names people type for an agency: 经信局, 市经信局, 舟山经信局, 舟山市经信局 ..."""
    forms = [kind, *AGENCY_KINDS.get(kind, ())]
    out: list[str] = []
    if place is not None:
        level_word = "区" if place.level == 2 else ("省" if place.level == 0 else "市")
        if _is_municipality(place):
            level_word = "市"
        stems = {place.name, *[a for a, ps in gaz.by_name.items() if place in ps]}
        for form in forms[1:]:
            out.append(level_word + form)
            out.extend(stem + form for stem in sorted(stems, key=len))
    out.extend(forms[1:])
    seen: dict[str, None] = {}
    for name in out:
        seen.setdefault(name, None)
    return tuple(seen)


def find_agencies(
    text: str,
    known: dict[str, str],
    bounds: set[int] | None = None,
    after_places: frozenset[int] = frozenset(),
) -> list[AgencyMention]:
    """Agency mentions in a normalised question.

    `known` maps each kind held by the knowledge base to itself and lets unlisted short forms
    of those kinds match by subsequence; every listed kind and short form is recognised, so a
    question about an agency the knowledge base lacks (公安局) is recognised as such. Right
    after a place (offsets in `after_places`) a short form may also drop its last character,
    as people say it (舟山经信, 上城发改), unless that leaves an ordinary word (科技, 公安).
    """
    surfaces, lengths = _surfaces(frozenset(known))
    mentions: list[AgencyMention] = []
    i, n = 0, len(text)
    while i < n:
        for length in lengths.get(text[i], ()):
            if length > n - i:
                continue
            kinds = surfaces.get(text[i : i + length])
            if kinds and bounds is not None and i + length not in bounds:
                continue
            if kinds and not _PRONOUNS.match(text[max(0, i - 1) : i]):
                mentions.append(AgencyMention(text[i : i + length], kinds, i, i + length))
                i += length
                break
        else:
            i += 1
    taken = [(m.start, m.end) for m in mentions]
    bare, bare_lengths = _bare_forms()
    for start in sorted(after_places):
        for length in bare_lengths.get(text[start : start + 1], ()):
            if length > n - start:
                continue
            kinds = bare.get(text[start : start + length])
            end = start + length
            if kinds and (bounds is None or end in bounds):
                if not any(s < end and start < e for s, e in taken):
                    mentions.append(AgencyMention(text[start:end], kinds, start, end))
                    taken.append((start, end))
                break
    for kind in known:
        for m in _subsequence_mentions(text, kind):
            if bounds is not None and m.end not in bounds:
                continue
            if not any(s < m.end and m.start < e for s, e in taken):
                mentions.append(m)
                taken.append((m.start, m.end))
    return sorted(mentions, key=lambda m: m.start)


@lru_cache(maxsize=8)
def _surfaces(
    known: frozenset[str],
) -> tuple[dict[str, frozenset[str]], dict[str, tuple[int, ...]]]:
    """Every written form of every kind -> the kinds it can mean; and the forms' lengths by
    first character (first_char_lengths)."""
    surfaces: dict[str, set[str]] = {}
    for kind, shorts in AGENCY_KINDS.items():
        for s in (kind, *shorts):
            surfaces.setdefault(s, set()).add(kind)
    for kind in known:
        surfaces.setdefault(kind, set()).add(kind)
    frozen = {s: frozenset(k) for s, k in surfaces.items()}
    return frozen, first_char_lengths(frozen)


@lru_cache(maxsize=1)
def _bare_forms() -> tuple[dict[str, frozenset[str]], dict[str, tuple[int, ...]]]:
    """Short forms without their last character (经信局 -> 经信) that are pure abbreviations:
    not a word jieba knows (科技, 公安, 信访 are ordinary words) and not a piece of the full
    name (大数据 is a topic as much as an agency)."""
    from reportqa.places import jieba_words

    stems = {s[:-1] for shorts in AGENCY_KINDS.values() for s in shorts}
    known_words = jieba_words(stems)
    bare: dict[str, set[str]] = {}
    for kind, shorts in AGENCY_KINDS.items():
        for s in shorts:
            stem = s[:-1]
            if (
                2 <= len(stem) <= 3
                and s[-1] in "局委办厅"
                and stem not in known_words
                and stem not in kind
            ):
                bare.setdefault(stem, set()).add(kind)
    frozen = {s: frozenset(k) for s, k in bare.items()}
    return frozen, first_char_lengths(frozen)


def _subsequence_mentions(text: str, kind: str) -> list[AgencyMention]:
    out: list[AgencyMention] = []
    ends = {kind[-1], kind.removesuffix("员会").removesuffix("公室")[-1]}
    if not any(e in text for e in ends):
        return out  # no character an abbreviation of it could end with
    for end in range(len(text)):
        if text[end] not in ends:
            continue
        for start in range(max(0, end - len(kind) + 1), end - 1):
            if text[start] != kind[0]:
                continue  # an abbreviation starts as the name does
            span = text[start : end + 1]
            if len(span) >= 3 and is_abbreviation(span, kind):
                out.append(AgencyMention(span, frozenset({kind}), start, end + 1))
                break
    return out
