"""Question -> Answer: candidates from the index, fuzzy rescoring, entity checks, answer sentence.

The flow for one question:
1. analyse: normalise, tokenise, find the places, agencies and years it names and the kind of
   value it asks for (多少家 -> a count of 家, 哪天 -> a date, 比例 -> a percentage);
2. score every passage with BM25 (words + bigrams; a bigram the index lacks is looked up by its
   pinyin, so homophone typos still match), weighted down for reports of another place or
   agency, and take the top candidates;
3. rescore the candidates with rapidfuzz against passage and section, and combine (combine());
4. pick the sentence that answers best in each passage;
5. decide whether to answer (confidence()): a question about a place, agency or year that the
   best passage does not belong to, or whose asked-for value or topic is not in it, gets an
   honest "no answer" together with what the knowledge base does cover.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from rapidfuzz import fuzz

from reportqa.agencies import (
    AgencyMention,
    agency_kind,
    close_kinds,
    find_agencies,
    is_abbreviation,
)
from reportqa.index import Index
from reportqa.models import Answer, Fact, Hit, KnowledgeBase, Passage, Report
from reportqa.normalize import clean_input, normalize
from reportqa.places import Gazetteer, Place
from reportqa.tokenize import BIGRAM, STOPWORDS, Tokenizer, bigrams

MAX_QUESTION = 300  # characters analysed; a longer message is cut, not refused
CANDIDATES = 24  # passages that get fuzzy rescoring
MISMATCH = 0.25  # score factor for a report of another place or agency than the one named
BROADER = 0.85  # score factor for a report of a wider area than the one named (市 for 区)
YEAR_MISMATCH = 0.5
PINYIN_WEIGHT = 0.7  # a homophone bigram counts this much of an exact one
ENTITY_WEIGHT = 0.3  # terms naming a place, agency or year: the metadata checks handle those
CROSS_WEIGHT = 0.3  # bigrams that straddle two words
INFO_SECTION = "文件信息"  # the passage of title, date, source and attachments
INFO_PENALTY = 0.6  # it answers questions about the document (date, 文号), not its content
FUZZ_WEIGHT = 0.35
# Share of the question's topic (idf-weighted bigrams of its content words) the passage must
# hold. Calibrated on the dev set: the lowest share among correctly found answers of the
# direct/short/no_agency styles is 0.42; paraphrases go lower and rely on the other checks.
COVERAGE_MIN = 0.4
# A question asking for a value of a definite kind (a count of 次, a date, a sum of money)
# is best answered by a passage that holds one; a bare "how many" is too weak a clue.
VALUE_MISSING = 0.75  # score factor for a passage without the value asked for
FACT_MIN = 82.0  # rapidfuzz score from which a curated fact answers the question
CACHE_LIMIT = 200_000  # normalised passages kept in memory
MEMO_LIMIT = 4096  # sets of agency (or place) names whose factors are remembered

# With the words a number asked for belongs to in the answer sentence, a smaller share of the
# rest of the question will do (空气好的天数 -> 优良天数达到251天).
COVERAGE_ANCHORED = 0.25
_HOW_MUCH = re.compile(r"多少|多大|几(?![乎])")
# Words between an asked number and the thing it counts: 实现利润总额(共)多少, 天数有多少.
_FILLERS = frozenset(
    [
        "有",
        "是",
        "为",
        "了",
        "的",
        "共",
        "一共",
        "总共",
        "累计",
        "合计",
        "共计",
        "总计",
        "达",
        "达到",
        "约",
        "大约",
        "到底",
        "究竟",
        "实现",
        "完成",
        "给",
        "都",
        "又",
        "还",
        "就",
        "能",
        "会",
        "要",
        "可",
        "呀",
        "啊",
        "呢",
        "吗",
        "大概",
        "一般",
        "分别",
        "各",
        "那边",
        "这边",
        "那里",
        "这里",
        "今年",
        "去年",
        "当年",
        "全年",
    ]
)
_YEAR_Q = re.compile(r"(?<!\d)((?:19[5-9]|20[0-9])\d)(?:\s*年|(?![\d.%]))")
_QUOTE = re.compile(r"《[^》]*》")
# A plan (工作要点, 计划, 方案) states targets; a question about what was actually achieved
# cannot be answered from it.
PLAN_TYPES = ("要点", "计划", "方案")
_OUTCOME = re.compile(r"实际|最终|最后.{0,3}(?:达到|完成|实现)|(?:达到|完成|实现)了(?!吗)")
_CONTENT = re.compile(r"[\u4e00-\u9fff]{2,}|[a-z]{2,}|\d")
_ASKING = re.compile(r"多少|几|哪|什么|怎么|有没有|是否|是不是|吗|呢|啊|谁|数量|数目")
# Measure words: after 多少/几 they name the unit of the number asked for.
_MEASURE = "个件条项家名人次篇场份处批张户辆台套所块元册期届轮天年月日周页位例起宗笔亿万倍"
_NOT_COUNTS = str.maketrans("", "", "年月日周天")  # "how many" without a unit is not a date
_NUM = r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千万零〇]+)"
# A count: digits, or Chinese numerals other than a lone 一 (一件事, 一个环节 are words), not
# an ordinal (第一个).
_CN_DIGITS = "一二两三四五六七八九十百千万零〇"
_COUNT_NUM = (
    rf"(?<!第)(?:\d+(?:\.\d+)?|(?<![{_CN_DIGITS}])(?:[{_CN_DIGITS[1:]}]|[{_CN_DIGITS}]{{2,}}))"
)
_SENT_SPLIT = re.compile(r"(?<=[。！？!?；;\n])")
_UNIT_ALIASES = {
    "天": "天日",
    "日": "天日",
    "人": "人名",
    "名": "名人",
    "次": "次场",
    "场": "场次",
    "元": "元",
    "钱": "元",
}


_LATIN_WORD = re.compile(r"(?<![a-z0-9])[a-z][a-z0-9]*(?![a-z0-9])")
# English abbreviations that government reports write in Chinese (general usage, not one report)
ABBREVIATIONS = {
    "gdp": "生产总值",
    "cpi": "居民消费价格",
    "ppi": "工业生产者出厂价格",
    "pmi": "采购经理指数",
    "ppp": "政府和社会资本合作",
    "fdi": "外商直接投资",
    "ipo": "首次公开发行",
}
_ENGLISH_ASKING = tuple(
    (re.compile(rf"(?<![a-z]){english}(?![a-z])"), chinese)
    for english, chinese in (
        (r"how many|how much|number of|amount of|total", "多少"),
        (r"what percentage|what proportion|what share|what rate", "比例是多少"),
        (r"how long", "多长时间"),
        (r"when|what date|what time", "什么时候"),
        (r"which|what|who|whom|whose|where", "什么"),
    )
)
_PASSAGE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(?!\d)")
REVIEWS_PREVIOUS_YEAR = ("政府工作报告",)  # a 2025年政府工作报告 reviews 2024 and plans 2025


def covered_years(report: Report) -> tuple[int, ...]:
    """The years a report speaks about: its own, and for a government work report the year
    it reviews (the one before)."""
    if report.year is None:
        return ()
    if report.doc_type in REVIEWS_PREVIOUS_YEAR:
        return (report.year, report.year - 1)
    return (report.year,)


@dataclass(frozen=True)
class ValueKind:
    """What kind of value a question asks for, as a pattern the answer sentence must match
    (or, for a person's name, a test a pattern cannot make)."""

    name: str
    pattern: re.Pattern[str]
    test: Callable[[str], bool] | None = None

    def found(self, norm: str) -> bool:
        """Whether normalised text holds a value of this kind."""
        return self.test(norm) if self.test is not None else bool(self.pattern.search(norm))


# A role's holder asked for: 局长是谁, 发言人叫什么名字 (谁 alone often asks for a unit: 由谁主办).
_PERSON_Q = re.compile(
    r"(?:长|主任|书记|负责人|发言人|主持人|委员|代表)"
    r"(?:是谁|叫什么|姓什么|的?姓名|的?名字|是哪位)"
)


# The commonest Chinese surnames (about 85% of people): a word jieba does not know (or tags as
# a name) is a person's name when it is two or three characters long and starts with one.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕"
    "屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧"
    "闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝代"
)


def names_a_person(name_like: list[str]) -> bool:
    """Whether text names a person, given its name-like words (Tokenizer.name_like): 局长李明
    does, 由局长任组长 does not (such a word that starts with a surname)."""
    return any(word[0] in _SURNAMES for word in name_like)


def value_kind(q: str) -> ValueKind | None:
    """The value asked for by a normalised question, if it asks for one."""
    if re.search(r"多少钱|多少元|金额|罚款|罚没|花了多少|花多少|资金.{0,4}多大", q):
        return ValueKind("money", re.compile(rf"{_NUM}\s*(?:余|多)?\s*[万亿]?元"))
    if _PERSON_Q.search(q):
        # the test needs a tokenizer: Engine.analyse gives it the engine's own
        return ValueKind("person", re.compile(r"(?!)"))
    if re.search(r"邮箱|电子邮件|电子信箱|e-?mail", q):
        return ValueKind("email", re.compile(r"[a-z0-9._-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+"))
    if re.search(r"电话|联系方式|热线|传真", q):
        return ValueKind("phone", re.compile(r"\d{3,4}\s*[-－—]\s*\d{7,8}|\d{11}|\d{7,8}"))
    if re.search(r"文号|发文字号", q):
        return ValueKind("docno", re.compile(r"〔\d{4}〕|\[\d{4}\]|\d+号"))
    if re.search(r"哪天|哪一天|什么时候|何时|哪个月|几月|哪年|哪一年|日期|什么时间", q):
        return ValueKind("date", re.compile(r"\d{4}\s*[年\-/.]|\d{1,2}\s*月|年底|年初|年内|月底"))
    if re.search(r"比例|占比|百分|率[^，,。？?]{0,8}(?:多少|几成)", q):
        return ValueKind("percent", re.compile(rf"{_NUM}\s*%|百分之"))
    if re.search(r"面积|(?:多少|几)\s*(?:万)?(?:亩|平方|公顷)", q):
        return ValueKind(
            "area", re.compile(rf"{_NUM}\s*(?:余|多)?\s*[万亿]?\s*(?:亩|平方|公顷|㎡|km2)")
        )
    if re.search(r"多久|多长时间|(?:多少|几)个?(?:天|工作日)", q):
        return ValueKind("duration", re.compile(rf"{_NUM}\s*(?:个)?\s*(?:工作日|天|日|月|小时)"))
    if re.search(r"第(?:几|多少)", q):
        return ValueKind("ordinal", re.compile(rf"第{_NUM}"))
    m = re.search(rf"(?<!哪)(?:多少|几)\s*个?([{_MEASURE}])", q)
    if m and m.group(1) not in "个":
        units = _UNIT_ALIASES.get(m.group(1), m.group(1))
        return ValueKind(
            # 多少个项目 asks 个 of 项目: 27个项目 holds it
            "count",
            re.compile(rf"{_COUNT_NUM}\s*(?:余|多)?\s*[万亿]?\s*(?:余|多)?\s*个?\s*[{units}]"),
        )
    if re.search(r"(?<!哪)(?:多少|几)|数量|数目|人数|件数|次数|规模", q):
        return ValueKind(
            "number",
            re.compile(
                rf"{_COUNT_NUM}\s*(?:余|多)?\s*[万亿]?\s*(?:余|多)?\s*(?:[{_MEASURE.translate(_NOT_COUNTS)}](?!工作日|月|小时|星期|季度)|%)"
            ),
        )
    return None


@dataclass
class Query:
    """A question analysed once: its terms and the places, agencies and years it names."""

    text: str
    norm: str
    term_weights: dict[int, float]
    topic: dict[str, float]  # bigram -> idf: what the question is about (for coverage)
    places: list[list[Place]]
    agencies: list[AgencyMention]
    years: list[int]
    value: ValueKind | None
    # (start, end, "place" | "agency" | "year") of each entity named, offsets into `norm`
    entities: list[tuple[int, int, str]] = field(default_factory=list)
    report_factors: np.ndarray = field(default_factory=lambda: np.ones(0))
    # for each place named, the places written right against it (深圳市龙华区: one chain)
    chained: tuple[tuple[int, ...], ...] = ()
    close_kinds: frozenset[str] | None = None  # kinds held close to one asked (stand_in)
    # the words a number asked for belongs to: 利润总额 in 利润总额多少亿元, 项目 in 多少个项目
    anchors: tuple[str, ...] = ()
    # the places named right before an agency (淮安市 in 淮安市人民政府): that agency's own place,
    # so a report of a district's agency inside it is another agency's
    owners: frozenset[int] = frozenset()


@dataclass(frozen=True)
class _ReportInfo:
    report: Report
    place: Place | None
    kind: str | None
    agency_norm: str


class Engine:
    """Answers questions from one knowledge base; immutable once built, safe to share."""

    def __init__(
        self, kb: KnowledgeBase, index: Index, tokenizer: Tokenizer, gaz: Gazetteer
    ) -> None:
        self.kb = kb
        self.index = index
        self.tokenizer = tokenizer
        self.gaz = gaz
        self.entries: list[tuple[int, Passage]] = [
            (ri, p) for ri, r in enumerate(kb.reports) for p in r.passages
        ]
        self.passage_report = np.array([ri for ri, _ in self.entries], dtype=np.int32)
        self.reports = [
            _ReportInfo(
                r, gaz.resolve(r.region), agency_kind(normalize(r.agency)), normalize(r.agency)
            )
            for r in kb.reports
        ]
        self.known_kinds = {i.kind: i.kind for i in self.reports if i.kind}
        self._kinds_at: dict[str | None, set[str]] = {}  # place code -> kinds of agency held
        for info in self.reports:
            if info.kind:
                self._kinds_at.setdefault(info.place.code if info.place else None, set()).add(
                    info.kind
                )
        self._report_index = {r.report_id: ri for ri, r in enumerate(kb.reports)}
        groups: dict[tuple[str | None, str | None, str], int] = {}
        self._groups: list[_ReportInfo] = []
        group_of = []
        for info in self.reports:
            key = (info.place.code if info.place else None, info.kind, info.agency_norm)
            if key not in groups:
                groups[key] = len(self._groups)
                self._groups.append(info)
            group_of.append(groups[key])
        self._group_of = np.array(group_of, dtype=np.int64)
        # the distinct places of the groups (None: a report of no known place)
        codes: dict[str | None, int] = {}
        self._group_places: list[Place | None] = []
        for info in self._groups:
            code = info.place.code if info.place else None
            if code not in codes:
                codes[code] = len(self._group_places)
                self._group_places.append(info.place)
        self._group_place = np.array(
            [codes[i.place.code if i.place else None] for i in self._groups], dtype=np.int64
        )
        self._held_places = [i.place for i in self._groups if i.place is not None]
        self._by_key = {passage_key(p.id): (ri, p) for ri, p in self.entries}
        # Filled as questions come: normalising a passage costs more than scoring it.
        self._norms: dict[int, str] = {}
        self._sentence_cache: dict[str, tuple[list[str], list[str]]] = {}
        self._value_cache: dict[tuple[int, str], bool] = {}
        self._agency_memo: dict[Any, np.ndarray] = {}
        self._homophone_memo: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {}
        self._place_memo: dict[Any, np.ndarray] = {}
        self._fact_keys = [
            (f, [normalize(q) for q in (f.question, *f.alternatives)]) for f in kb.facts
        ]

    # ------------------------------------------------------------------ public

    def ask(self, question: str, top: int = 3, report_ids: frozenset[str] | None = None) -> Answer:
        """Answer one question with up to `top` hits, best first."""
        question = clean_input(question)
        query = self.analyse(question)
        answer = self._search(question, query, top, report_ids)
        fact_hit = self._fact(query, report_ids)
        if fact_hit is not None:  # a curated fact outranks every passage
            hits = (fact_hit, *(h for h in answer.hits if h.passage.id != fact_hit.passage.id))
            return Answer(question, True, hits[: max(top, 1)], 1.0)
        return answer

    def _search(
        self, question: str, query: Query, top: int, report_ids: frozenset[str] | None
    ) -> Answer:
        if not query.term_weights and not query.topic:
            return Answer(question, False, (), 0.0, "问题里没有可以检索的内容", self.coverage)
        mult = self._report_factors(query, report_ids)
        query.report_factors = mult
        scores = self.index.score(query.term_weights) * mult[self.passage_report]
        k = min(CANDIDATES, len(scores))
        if k == 0 or float(scores.max(initial=0.0)) <= 0.0:
            return Answer(question, False, (), 0.0, "知识库中没有找到相关内容", self.coverage)
        cand = np.argpartition(-scores, k - 1)[:k]
        cand = cand[scores[cand] > 0]
        cand = cand[np.argsort(-scores[cand], kind="stable")]  # best BM25 first
        best = float(scores[cand[0]])
        ranked: list[tuple[float, int, str, bool]] = []
        kept: list[float] = []  # the best `top` combined scores so far, descending
        definite = query.value if query.value and query.value.name != "number" else None
        about_document = bool(query.value and query.value.name in ("date", "docno"))
        for i in cand:
            rel = float(scores[i]) / best
            full = len(kept) >= max(top, 1)
            if full and combine(rel, 1.0, True) < kept[-1]:
                break  # every later candidate scores less than the hits already found
            ri, passage = self.entries[int(i)]
            info = self.reports[ri]
            norm = self._passage_norm(int(i))
            year_ok = self._year_ok(query, info.report, norm)
            info_only = passage.section[:1] == (INFO_SECTION,) and not about_document
            value_ok = definite is None or self._holds(int(i), definite)
            factor = combine(1.0, 0.0, year_ok, info_only, value_ok)  # its penalties
            # the fuzzy ratio it needs to enter the hits: rapidfuzz stops early below it
            need = (kept[-1] / factor - rel) / FUZZ_WEIGHT * 100.0 if full else 0.0
            if need > 100.0:
                continue
            fuzzy = (
                fuzz.partial_ratio(query.norm, norm, score_cutoff=max(need, 0.0)) / 100.0
                if query.norm
                else 0.0
            )
            score = combine(rel, fuzzy, year_ok, info_only, value_ok)
            if full and score < kept[-1]:
                continue
            ranked.append((score, int(i), norm, year_ok))
            kept = sorted([*kept, score], reverse=True)[: max(top, 1)]
        ranked.sort(key=lambda r: -r[0])
        hits: list[Hit] = []
        for score, i, _, _ in ranked[: max(top, 1)]:
            ri, passage = self.entries[i]
            sentence = self.best_sentence(query, passage)
            hits.append(Hit(self.kb.reports[ri], passage, sentence, score))
        hits = hits[: max(top, 1)]
        _, top_i, top_norm, year_ok = ranked[0]
        answered, conf, reason = self.confidence(query, top_i, top_norm, year_ok, hits[0])
        note = ""
        info = self.reports[self.entries[top_i][0]]
        named = self.stand_in(query, info) if answered and query.agencies else ""
        if named and self._agency_factor_exact(query, info) <= MISMATCH:
            note = f"知识库中没有{named}的报告，以下按相近的{info.report.agency}的报告回答"
        return Answer(
            question, answered, tuple(hits), conf, reason, () if answered else self.coverage, note
        )

    def _agency_factor_exact(self, q: Query, info: _ReportInfo) -> float:
        """1.0 when the report's agency is the one named (its kind or a short form of its
        name), MISMATCH otherwise; close names (stand_in) not counted."""
        for m in q.agencies:
            if info.kind and (info.kind in m.kinds or is_abbreviation(m.text, info.kind)):
                return 1.0
            if is_abbreviation(m.text, info.agency_norm[-len(m.text) * 3 :] or "x"):
                return 1.0
        return MISMATCH

    def passage(self, key: str) -> tuple[Report, Passage] | None:
        """The report and passage with this passage_key(), if the knowledge base still has it."""
        found = self._by_key.get(key)
        return (self.kb.reports[found[0]], found[1]) if found else None

    @cached_property
    def coverage(self) -> tuple[str, ...]:
        """What the knowledge base covers: one line per report (agency, year, title)."""
        return tuple(
            f"{r.agency}（{r.year or '年份不详'}）{r.title}"
            if r.agency
            else f"《{r.title or r.source_file}》（{r.year or '年份不详'}）"
            for r in self.kb.reports
        )

    # ------------------------------------------------------------------ analysis

    def _latin(self, norm: str) -> str:
        """English mixed into a question, as a user means it: question words are asked in
        Chinese (how many -> 多少), a word the reports hold (gdp, 5g, odr) stays, and any other
        English word is dropped: it can match nothing, so it must not weigh on the answer."""
        if not _LATIN_WORD.search(norm):
            return norm
        for pattern, chinese in _ENGLISH_ASKING:
            norm = pattern.sub(chinese, norm)

        def keep(m: re.Match[str]) -> str:
            word = m.group(0)
            chinese = ABBREVIATIONS.get(word, "")
            if any(c.isdigit() for c in word) or word in self.index.vocab:
                return f"{word} {chinese}" if chinese else word
            return f" {chinese} " if chinese else " "

        return _LATIN_WORD.sub(keep, norm)

    def analyse(self, question: str) -> Query:
        """Terms, topic and named entities of a question."""
        norm = self._latin(normalize(question)[:MAX_QUESTION])
        outside_quotes = _QUOTE.sub(lambda m: " " * len(m.group(0)), norm)
        spans = self.tokenizer.spans(norm)
        bounds = {a for a, _, _ in spans} | {b for _, b, _ in spans}
        for a, _, token in spans:  # 舟山市科技局 is one token: its place still ends a word
            for length in range(len(token) - 1, 1, -1):
                if token[:length] in self.gaz.by_name:
                    bounds.add(a + length)
                    break
        raw_places = self.gaz.find(outside_quotes, bounds)
        ends = frozenset(pos + len(name) for pos, name, _ in raw_places)
        agencies = find_agencies(outside_quotes, self.known_kinds, bounds, ends)
        starts = {m.start for m in agencies}
        found_places = [
            (pos, name, cands)
            for pos, name, cands in raw_places
            if self._is_place_mention(name, cands, pos + len(name) in starts)
        ]
        places = [cands for _, _, cands in found_places]
        chained = tuple(
            tuple(
                m
                for m, (pos2, name2, _) in enumerate(found_places)
                if pos2 + len(name2) == pos or pos + len(name) == pos2
            )
            for pos, name, _ in found_places
        )
        year_spans = [
            (m.start(), m.end(), int(m.group(1))) for m in _YEAR_Q.finditer(outside_quotes)
        ]
        entity = [False] * (len(norm) + 1)  # characters naming a place/agency/year
        for pos, name, _ in found_places:
            entity[pos : pos + len(name)] = [True] * len(name)
        for m in agencies:
            entity[m.start : m.end] = [True] * (m.end - m.start)
        for a, b, _ in year_spans:
            entity[a:b] = [True] * (b - a)
        weights: dict[int, float] = {}
        topic: dict[str, float] = {}
        for a, b, word in spans:
            if not word.strip() or word in STOPWORDS or not _CONTENT.search(word):
                continue
            is_entity = all(entity[a:b])
            self._add_term(weights, word, ENTITY_WEIGHT if is_entity else 1.0)
            grams = bigrams(word)
            for i, gram in enumerate(grams):
                on_entity = entity[a + i] and entity[a + i + 1]
                self._add_term(weights, gram, ENTITY_WEIGHT if on_entity else 1.0)
                if on_entity or _ASKING.search(word) or len(gram) != 3:
                    continue
                tid = self.index.vocab.get(gram)
                topic[gram[1:]] = float(self.index.idf[tid]) if tid is not None else self._max_idf
        # bigrams across word boundaries still help ranking (unsegmented or mis-cut words)
        for gram in bigrams(norm):
            self._add_term(weights, gram, CROSS_WEIGHT)
        value = value_kind(norm)
        if value is not None and value.name == "person":
            words = self.tokenizer.name_like
            value = ValueKind(value.name, value.pattern, lambda t: names_a_person(words(t)))
        anchors = _anchors(norm, spans, entity) if value and value.name in _NUMBERS else ()
        return Query(
            question,
            norm,
            weights,
            topic,
            places,
            agencies,
            [y for _, _, y in year_spans],
            value,
            sorted(
                [(p, p + len(name), "place") for p, name, _ in found_places]
                + [(m.start, m.end, "agency") for m in agencies]
                + [(a, b, "year") for a, b, _ in year_spans]
            ),
            chained=chained,
            anchors=anchors,
            owners=frozenset(
                n for n, (pos, name, _) in enumerate(found_places) if pos + len(name) in starts
            ),
        )

    def _is_place_mention(self, name: str, cands: list[Place], before_agency: bool) -> bool:
        """A county's short name is often an ordinary word too (新建, 西湖, 江北): it names a
        place only when it is one the knowledge base holds, or an agency follows (西湖发改局).
        Full names (新建区) and cities' short names always count."""
        if any(c.name == name or c.level < 2 for c in cands) or before_agency:
            return True
        return any(h.contains(c) or c.contains(h) for c in cands for h in self._held_places)

    def _add_term(self, weights: dict[int, float], term: str, weight: float) -> None:
        tid = self.index.vocab.get(term)
        if tid is not None:
            weights[tid] = max(weights.get(tid, 0.0), weight)
        elif term.startswith(BIGRAM):
            for alt in self._homophones(term):
                weights[alt] = max(weights.get(alt, 0.0), weight * PINYIN_WEIGHT)

    @cached_property
    def _max_idf(self) -> float:
        return float(self.index.idf.max()) if len(self.index.idf) else 1.0

    @cached_property
    def _pinyin_map(self) -> dict[str, list[int]]:
        """Pinyin of each indexed bigram -> its term ids (built on first use)."""
        from reportqa.pinyin import bigram_keys

        out: dict[str, list[int]] = {}
        for term, tid in self.index.vocab.items():
            if term.startswith(BIGRAM) and len(term) == 3:
                for key in bigram_keys(term[1:]):
                    out.setdefault(key, []).append(tid)
        return out

    def _homophones(self, term: str) -> list[int]:
        """Term ids of indexed bigrams read like a bigram term the index lacks (up to 8)."""
        if len(term) != 3:
            return []
        return list(self._homophone(term[1:])[0][:8])

    # ------------------------------------------------------------------ entity checks

    def _report_factors(self, q: Query, report_ids: frozenset[str] | None) -> np.ndarray:
        """A score factor per report for the place and agency named. Reports of the same
        place and agency share one computation (thousands of reports, a few hundred groups)."""
        out = np.ones(len(self.reports))
        if q.places or q.agencies:
            places = np.ones(len(self._groups))
            if q.places:  # once per place held, not per report or group
                places = self._place_factors(q)[self._group_place]
            if (places == 1.0).any():  # a report of the very place asked about exists:
                places[places != 1.0] = MISMATCH  # wider ones don't count
            if q.agencies:
                places = places * self._agency_factors(q)
            out = places[self._group_of]
        if report_ids is not None:
            keep = np.zeros(len(self.reports), dtype=bool)
            keep[[self._report_index[r] for r in report_ids if r in self._report_index]] = True
            out = np.where(keep, out, 0.0)
        return out

    def _agency_factors(self, q: Query) -> np.ndarray:
        """The agency factor of every group; it depends on the agencies named alone, so it is
        remembered per set of names (people ask about a few hundred agencies, again and again)."""
        key = tuple((m.text, m.kinds) for m in q.agencies)
        return _remembered(
            self._agency_memo,
            key,
            lambda: np.array([self._agency_factor(q, info) for info in self._groups]),
        )

    def _place_factors(self, q: Query) -> np.ndarray:
        """The place factor of every place held; remembered per places named (and how they are
        written together), as _agency_factors."""
        key = (tuple(tuple(c.code for c in cands) for cands in q.places), q.owners, q.chained)
        return _remembered(
            self._place_memo,
            key,
            lambda: np.array([self._place_factor(q, place) for place in self._group_places]),
        )

    def _place_factor(self, q: Query, place: Place | None) -> float:
        if not q.places:
            return 1.0
        if place is None:
            return MISMATCH
        factor = 1.0
        fits: list[int] = []
        others: list[int] = []  # places named that are neither this report's nor wider
        for n, cands in enumerate(q.places):
            if any(c.contains(place) for c in cands):
                if n in q.owners and not any(c.code == place.code for c in cands):
                    return MISMATCH  # 淮安市人民政府 asked: 洪泽区人民政府 is another agency
                fits.append(n)
            elif any(place.contains(c) for c in cands):
                factor *= BROADER
            elif len(q.places) == 1:
                return MISMATCH  # the common case, decided at once
            else:
                others.append(n)
        if not others:
            return factor
        if not fits:
            return MISMATCH
        matching = [c for n in fits for c in q.places[n]]
        for n in others:
            related = any(c.contains(m) or m.contains(c) for c in q.places[n] for m in matching)
            tied = n < len(q.chained) and any(m in fits for m in q.chained[n])
            if related or tied:
                return MISMATCH
            # else another place the question speaks of (易县 working with 北京海淀区)
        return factor

    def _agency_factor(self, q: Query, info: _ReportInfo) -> float:
        if not q.agencies or self._agency_factor_exact(q, info) == 1.0:
            return 1.0
        return 1.0 if self.stand_in(q, info) else MISMATCH

    def stand_in(self, q: Query, info: _ReportInfo) -> str:
        """The agency named in the question that this report's agency stands in for: a close
        name (科委 for 科学技术局, 经信局 for 经济和信息化委员会) when the knowledge base holds no
        agency of the named kind in that place; '' otherwise."""
        if not info.kind:
            return ""
        if q.close_kinds is None:  # the kinds held that are close to one asked (once a query)
            asked = {k for m in q.agencies for k in m.kinds}
            q.close_kinds = frozenset(
                held for held in self.known_kinds if any(close_kinds(k, held) for k in asked)
            )
        if info.kind not in q.close_kinds:
            return ""
        here = self._kinds_at.get(info.place.code if info.place else None, set())
        for m in q.agencies:
            if m.kinds & here:
                continue
            if any(close_kinds(k, info.kind) for k in m.kinds):
                return m.text
        return ""

    def _year_ok(self, q: Query, report: Report, passage_norm: str) -> bool:
        """Each year asked is the passage's: named in it, or the report's own year when the
        passage names no other year (「2019年粮食产量…」 is no answer about 2020)."""
        for y in q.years:
            if str(y) in passage_norm:
                continue
            if y not in covered_years(report):
                return False
            if any(int(other) != y for other in _PASSAGE_YEAR.findall(passage_norm)):
                return False
        return True

    # ------------------------------------------------------------------ answer

    def best_sentence(self, q: Query, passage: Passage) -> str:
        """The sentence of the passage that holds most of the question; when the question asks
        for a value (a count, a date, a document number) that sentence must hold one, so the
        best such sentence is taken even if it shares fewer words with the question."""
        sentences, norms = self._sentences(passage)
        if not sentences:
            return passage.text
        overlap = [sum(w for pair, w in q.topic.items() if pair in n) for n in norms]
        best = max(range(len(sentences)), key=lambda i: overlap[i])
        if q.value is not None and not q.value.found(norms[best]):
            with_value = [i for i, n in enumerate(norms) if q.value.found(n)]
            if with_value:
                best = max(with_value, key=lambda i: (overlap[i], -abs(i - best)))
        return sentences[best]

    def _passage_norm(self, i: int) -> str:
        """The normalised section path and text of passage i (computed once, on demand)."""
        norm = self._norms.get(i)
        if norm is None:
            _, passage = self.entries[i]
            norm = normalize(" ".join(passage.section) + " " + passage.text)
            if len(self._norms) >= CACHE_LIMIT:
                self._norms.clear()
            self._norms[i] = norm
        return norm

    def _holds(self, i: int, value: ValueKind) -> bool:
        """Whether passage i holds a value of this kind (remembered per passage and kind)."""
        key = (i, value.name if value.test else value.pattern.pattern)
        found = self._value_cache.get(key)
        if found is None:
            found = value.found(self._passage_norm(i))
            if len(self._value_cache) >= CACHE_LIMIT:
                self._value_cache.clear()
            self._value_cache[key] = found
        return found

    def _sentences(self, passage: Passage) -> tuple[list[str], list[str]]:
        """A passage's sentences and their normalised forms (computed once, on demand)."""
        found = self._sentence_cache.get(passage.id)
        if found is None:
            sentences = [s.strip() for s in _SENT_SPLIT.split(passage.text) if s.strip()]
            found = (sentences, [normalize(s) for s in sentences])
            if len(self._sentence_cache) >= CACHE_LIMIT:
                self._sentence_cache.clear()
            self._sentence_cache[passage.id] = found
        return found

    def confidence(
        self, q: Query, i: int, norm: str, year_ok: bool, hit: Hit
    ) -> tuple[bool, float, str]:
        """Whether to answer, with a confidence in [0, 1] and the reason when not."""
        ri, _ = self.entries[i]
        info = self.reports[ri]
        if (
            q.places
            and q.report_factors[ri] <= MISMATCH
            and self._agency_factor(q, info) > MISMATCH
        ):
            where = "、".join(dict.fromkeys(max(c, key=lambda p: p.level).name for c in q.places))
            return False, 0.1, f"知识库中没有{where}的报告"
        named_here = any(len(m.text) >= 3 and m.text in norm for m in q.agencies)
        if q.agencies and self._agency_factor(q, info) <= MISMATCH and not named_here:
            names = "、".join(m.text for m in q.agencies)
            return False, 0.1, f"知识库中没有{names}的报告"
        if not year_ok:
            years = "、".join(str(y) for y in q.years)
            return False, 0.2, f"知识库中没有{years}年的相关内容"
        if info.report.doc_type.endswith(PLAN_TYPES) and _OUTCOME.search(q.norm):
            return False, 0.2, "这份报告是工作计划，只写了目标，没有写实际完成情况"
        covered = self.coverage_of(q, norm)
        value_ok = q.value is None or q.value.found(normalize(hit.sentence))
        conf = covered * (1.0 if value_ok else 0.5)
        if not value_ok:
            what = "人名" if q.value is not None and q.value.name == "person" else "数值"
            return False, conf, f"报告中没有问题所问的{what}"
        if not q.topic:
            return False, 0.0, "问题里没有可以检索的具体内容，请说明想了解什么"
        if covered >= COVERAGE_ANCHORED and q.anchors and q.value is not None:
            sentence = normalize(hit.sentence)
            if any(self._mentions(a, sentence) for a in q.anchors):
                return True, conf, ""  # the number asked for, with what it counts
        if covered < COVERAGE_MIN:
            return False, conf, "报告中没有谈到这个问题"
        return True, conf, ""

    def _mentions(self, anchor: str, norm: str) -> bool:
        """Whether normalised text holds an anchor word's head (its last two characters, as
        Chinese compounds end in what they name: 利润总额 -> 总额), or a homophone of it."""
        head = anchor[-2:]
        return head in norm or any(alt in norm for alt in self._sounds_like(head))

    def coverage_of(self, q: Query, norm: str) -> float:
        """The idf-weighted share of the question's topic bigrams found in a passage (a
        homophone counts: 法率 is covered by 法律)."""
        total = sum(q.topic.values())
        if total <= 0:  # nothing to look for: a name, a number or junk alone answers nothing
            return 0.0
        covered = 0.0
        for pair, w in q.topic.items():
            if pair in norm:
                covered += w
            elif any(alt in norm for alt in self._sounds_like(pair)):
                covered += w * PINYIN_WEIGHT
        return covered / total

    def _sounds_like(self, pair: str) -> tuple[str, ...]:
        """The indexed two-character strings read like `pair` (法率 -> 法律 ...): every passage's
        bigrams are indexed, so a passage holds a homophone of `pair` only if it holds one of
        these."""
        return self._homophone(pair)[1]

    def _homophone(self, pair: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """The term ids (in reading order) and the strings, other than `pair`, of the indexed
        bigrams read like `pair`; remembered."""
        found = self._homophone_memo.get(pair)
        if found is None:
            from reportqa.pinyin import bigram_keys

            ids = (t for key in bigram_keys(pair) for t in self._pinyin_map.get(key, ()))
            tids = tuple(dict.fromkeys(ids))
            texts = tuple(s for s in (self._terms[t][1:] for t in tids) if s != pair)
            found = (tids, texts)
            if len(self._homophone_memo) >= CACHE_LIMIT:
                self._homophone_memo.clear()
            self._homophone_memo[pair] = found
        return found

    @cached_property
    def _terms(self) -> list[str]:
        """Index terms by id."""
        terms = [""] * len(self.index.vocab)
        for term, tid in self.index.vocab.items():
            terms[tid] = term
        return terms

    def _fact(self, q: Query, report_ids: frozenset[str] | None) -> Hit | None:
        best: tuple[float, Fact] | None = None
        for fact, keys in self._fact_keys:
            if report_ids is not None and fact.report_id not in report_ids:
                continue
            score = max(fuzz.token_sort_ratio(q.norm, k) for k in keys) if keys else 0.0
            if score >= FACT_MIN and (best is None or score > best[0]):
                best = (score, fact)
        if best is None:
            return None
        score, fact = best
        report = self.kb.report(fact.report_id)
        if report is None:
            return None
        passage = Passage(f"fact-{fact.id}", (fact.section,) if fact.section else (), fact.answer)
        return Hit(report, passage, fact.answer, score / 100.0 + 1.0, fact)


def _remembered(
    memo: dict[Any, np.ndarray], key: object, compute: Callable[[], np.ndarray]
) -> np.ndarray:
    """memo[key], computed on first use; the memo is emptied when it holds MEMO_LIMIT keys."""
    found = memo.get(key)
    if found is None:
        found = compute()
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = found
    return found


_NUMBERS = frozenset({"count", "money", "percent", "duration", "area", "number"})
_HAN = re.compile(r"[\u4e00-\u9fff]+")


def _anchors(norm: str, spans: list[tuple[int, int, str]], entity: list[bool]) -> tuple[str, ...]:
    """The words a number asked for belongs to: the content word right before 多少/几 (fillers
    such as 有, 一共 skipped; a one-character verb such as 种 ends the search) and the word
    right after it past a measure word (多少个项目 -> 项目; 多少亿元 names only a unit)."""
    m = _HOW_MUCH.search(norm)
    if m is None:
        return ()
    out: list[str] = []
    before = [t for t in spans if t[1] <= m.start()]
    for k in range(len(before) - 1, -1, -1):
        a, b, token = before[k]
        if not token.strip() or token in _FILLERS:
            continue
        if not _HAN.fullmatch(token):
            break  # punctuation or a number: the clause ended
        if len(token) == 1 and k > 0:  # 执法|证: one word cut in two, unless a filler (一共|种)
            a2, _, prev = before[k - 1]
            if _HAN.fullmatch(prev) and prev not in _FILLERS and len(prev) >= 2:
                a, token = a2, prev + token
        if len(token) >= 2 and not any(entity[a:b]):
            out.append(token)
        break
    start = m.end() + 1 if norm[m.end() : m.end() + 1] in set(_MEASURE) - {"亿", "万"} else m.end()
    # the word from there: to the end of the token holding it (多|大面积 -> 面积), or the next
    end = next((b for a, b, _ in spans if b >= start + 2), start)
    after = norm[start:end]
    if (
        _HAN.fullmatch(after)
        and 2 <= len(after) <= 6
        and after[0] not in "亿万千百"
        and after not in _FILLERS
        and not _HOW_MUCH.match(after)
    ):
        out.append(after)
    return tuple(out)


def passage_key(passage_id: str) -> str:
    """A short stable key for a passage id (fits Telegram's 64-byte callback data)."""
    return hashlib.sha1(passage_id.encode("utf-8")).hexdigest()[:12]


def combine(
    bm25: float, fuzzy: float, year_ok: bool, info_only: bool = False, value_ok: bool = True
) -> float:
    """The one place where scores meet: BM25 relative to the best candidate (0-1; the place
    and agency checks have already weighted it), plus the rapidfuzz partial ratio of question
    and passage (0-1) weighted by FUZZ_WEIGHT; times YEAR_MISMATCH when neither the report nor
    the passage is of the year asked about, and times INFO_PENALTY for the document-info
    passage (title, date) when the question is not about the document itself, and times
    VALUE_MISSING when the question asks for a definite kind of value the passage lacks."""
    score = (bm25 + FUZZ_WEIGHT * fuzzy) * (1.0 if year_ok else YEAR_MISMATCH)
    score *= INFO_PENALTY if info_only else 1.0
    return score * (1.0 if value_ok else VALUE_MISSING)
