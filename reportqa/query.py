"""A question analysed once: its search terms, its topic, the places, agencies and years it
names, and the kind of value it asks for (多少家 -> a count of 家, 哪天 -> a date, 比例 -> a
percentage). The Analyser knows the index and the knowledge base's agencies and places; the
Query it returns is frozen, and the engine only reads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from reportqa.agencies import AgencyMention, close_kinds, find_agencies
from reportqa.index import Index
from reportqa.normalize import normalize
from reportqa.pinyin import Homophones
from reportqa.places import Gazetteer, Place
from reportqa.tokenize import BIGRAM, STOPWORDS, Tokenizer, bigrams

MAX_QUESTION = 300  # characters analysed; a longer message is cut, not refused

PINYIN_WEIGHT = 0.7  # a homophone bigram counts this much of an exact one
ENTITY_WEIGHT = 0.3  # terms naming a place, agency or year: the metadata checks handle those
CROSS_WEIGHT = 0.3  # bigrams that straddle two words

_HOW_MUCH = re.compile(r"多少|多大|几(?![乎])")
# Words between an asked number and the thing it counts: 实现利润总额(共)多少, 天数有多少.
_FILLERS = frozenset(
    re.findall(
        r"\S+",
        "有 是 为 了 的 共 一共 总共 累计 合计 共计 总计 达 达到 约 大约 到底 究竟 实现 完成 给 都"
        " 又 还 就 能 会 要 可 呀 啊 呢 吗 大概 一般 分别 各 那边 这边 那里 这里"
        " 今年 去年 当年 全年",
    )
)

_YEAR_Q = re.compile(r"(?<!\d)((?:19[5-9]|20[0-9])\d)(?:\s*年|(?![\d.%]))")
_QUOTE = re.compile(r"《[^》]*》")

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


# (what a question says, the kind of value it asks for, what such a value looks like), in order
# of precedence; counts and bare numbers (多少家, 多少) come last, in value_kind().
_DEFINITE = tuple(
    (re.compile(asks), kind, re.compile(looks))
    for asks, kind, looks in (
        (
            r"多少钱|多少元|金额|罚款|罚没|花了多少|花多少|资金.{0,4}多大",
            "money",
            rf"{_NUM}\s*(?:余|多)?\s*[万亿]?元",
        ),
        # a person's name: the test needs a tokenizer (Analyser gives it the engine's own)
        (_PERSON_Q.pattern, "person", r"(?!)"),
        (r"邮箱|电子邮件|电子信箱|e-?mail", "email", r"[a-z0-9._-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+"),
        (r"电话|联系方式|热线|传真", "phone", r"\d{3,4}\s*[-－—]\s*\d{7,8}|\d{11}|\d{7,8}"),
        (r"文号|发文字号", "docno", r"〔\d{4}〕|\[\d{4}\]|\d+号"),
        (
            r"哪天|哪一天|什么时候|何时|哪个月|几月|哪年|哪一年|日期|什么时间",
            "date",
            r"\d{4}\s*[年\-/.]|\d{1,2}\s*月|年底|年初|年内|月底",
        ),
        (r"比例|占比|百分|率[^，,。？?]{0,8}(?:多少|几成)", "percent", rf"{_NUM}\s*%|百分之"),
        (
            r"面积|(?:多少|几)\s*(?:万)?(?:亩|平方|公顷)",
            "area",
            rf"{_NUM}\s*(?:余|多)?\s*[万亿]?\s*(?:亩|平方|公顷|㎡|km2)",
        ),
        (
            r"多久|多长时间|(?:多少|几)个?(?:天|工作日)",
            "duration",
            rf"{_NUM}\s*(?:个)?\s*(?:工作日|天|日|月|小时)",
        ),
        (r"第(?:几|多少)", "ordinal", rf"第{_NUM}"),
    )
)


def value_kind(q: str) -> ValueKind | None:
    """The value asked for by a normalised question, if it asks for one."""
    for asks, kind, looks in _DEFINITE:
        if asks.search(q):
            return ValueKind(kind, looks)
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


@dataclass(frozen=True)
class Query:
    """A question analysed once: its terms and the places, agencies and years it names."""

    text: str
    norm: str
    term_weights: dict[int, float]
    topic: dict[str, float]  # bigram -> idf: what the question is about (for coverage)
    places: tuple[tuple[Place, ...], ...]  # each place named: the places it may be
    agencies: tuple[AgencyMention, ...]
    years: tuple[int, ...]
    value: ValueKind | None
    # (start, end, "place" | "agency" | "year") of each entity named, offsets into `norm`
    entities: tuple[tuple[int, int, str], ...] = ()
    # for each place named, the places written right against it (深圳市龙华区: one chain)
    chained: tuple[tuple[int, ...], ...] = ()
    # the kinds of agency the knowledge base holds that are close to one asked (科委 for 科技局)
    close_kinds: frozenset[str] = frozenset()
    # the words a number asked for belongs to: 利润总额 in 利润总额多少亿元, 项目 in 多少个项目
    anchors: tuple[str, ...] = ()
    # the places named right before an agency (淮安市 in 淮安市人民政府): that agency's own place,
    # so a report of a district's agency inside it is another agency's
    owners: frozenset[int] = frozenset()


@dataclass(frozen=True)
class _Entities:
    """Where a question names places, agencies and years."""

    places: list[tuple[int, str, list[Place]]]  # (offset, name as written, candidates)
    agencies: list[AgencyMention]
    years: list[tuple[int, int, int]]  # (start, end, year)
    mask: list[bool]  # per character of the question: part of an entity's name

    def spans(self) -> tuple[tuple[int, int, str], ...]:
        return tuple(
            sorted(
                [(p, p + len(name), "place") for p, name, _ in self.places]
                + [(m.start, m.end, "agency") for m in self.agencies]
                + [(a, b, "year") for a, b, _ in self.years]
            )
        )

    def chained(self) -> tuple[tuple[int, ...], ...]:
        found = self.places
        return tuple(
            tuple(
                m
                for m, (pos2, name2, _) in enumerate(found)
                if pos2 + len(name2) == pos or pos + len(name) == pos2
            )
            for pos, name, _ in found
        )

    def owners(self) -> frozenset[int]:
        starts = {m.start for m in self.agencies}
        return frozenset(
            n for n, (pos, name, _) in enumerate(self.places) if pos + len(name) in starts
        )


class Analyser:
    """Turns questions into Queries for one index and knowledge base."""

    def __init__(
        self,
        index: Index,
        tokenizer: Tokenizer,
        gaz: Gazetteer,
        known_kinds: dict[str, str],
        held_places: list[Place],
        homophones: Homophones,
    ) -> None:
        self.index = index
        self.tokenizer = tokenizer
        self.gaz = gaz
        self.known_kinds = known_kinds  # the kinds of agency the knowledge base holds
        self.held_places = held_places  # the places its reports belong to
        self.homophones = homophones

    def analyse(self, question: str) -> Query:
        """Terms, topic and named entities of a question."""
        norm = self.read_english(normalize(question)[:MAX_QUESTION])
        spans = self.tokenizer.spans(norm)
        found = self._entities(norm, spans)
        weights, topic = self._terms(norm, spans, found.mask)
        value = value_kind(norm)
        if value is not None and value.name == "person":
            words = self.tokenizer.name_like
            value = ValueKind(value.name, value.pattern, lambda t: names_a_person(words(t)))
        anchors = _anchors(norm, spans, found.mask) if value and value.name in _NUMBERS else ()
        return Query(
            question,
            norm,
            weights,
            topic,
            tuple(tuple(cands) for _, _, cands in found.places),
            tuple(found.agencies),
            tuple(y for _, _, y in found.years),
            value,
            found.spans(),
            chained=found.chained(),
            close_kinds=self._close_kinds(found.agencies),
            anchors=anchors,
            owners=found.owners(),
        )

    def _entities(self, norm: str, spans: list[tuple[int, int, str]]) -> _Entities:
        """The places, agencies and years a question names (outside 《titles》)."""
        outside_quotes = _QUOTE.sub(lambda m: " " * len(m.group(0)), norm)
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
        places = [
            (pos, name, cands)
            for pos, name, cands in raw_places
            if self._is_place_mention(name, cands, pos + len(name) in starts)
        ]
        years = [(m.start(), m.end(), int(m.group(1))) for m in _YEAR_Q.finditer(outside_quotes)]
        mask = [False] * (len(norm) + 1)
        for pos, name, _ in places:
            mask[pos : pos + len(name)] = [True] * len(name)
        for m in agencies:
            mask[m.start : m.end] = [True] * (m.end - m.start)
        for a, b, _ in years:
            mask[a:b] = [True] * (b - a)
        return _Entities(places, agencies, years, mask)

    def _terms(
        self, norm: str, spans: list[tuple[int, int, str]], entity: list[bool]
    ) -> tuple[dict[int, float], dict[str, float]]:
        """The weight of each index term for ranking, and the topic bigrams with their idf."""
        weights: dict[int, float] = {}
        topic: dict[str, float] = {}
        for a, b, word in spans:
            if not word.strip() or word in STOPWORDS or not _CONTENT.search(word):
                continue
            self._add_term(weights, word, ENTITY_WEIGHT if all(entity[a:b]) else 1.0)
            for i, gram in enumerate(bigrams(word)):
                on_entity = entity[a + i] and entity[a + i + 1]
                self._add_term(weights, gram, ENTITY_WEIGHT if on_entity else 1.0)
                if on_entity or _ASKING.search(word) or len(gram) != 3:
                    continue
                tid = self.index.vocab.get(gram)
                topic[gram[1:]] = float(self.index.idf[tid]) if tid is not None else self._max_idf
        # bigrams across word boundaries still help ranking (unsegmented or mis-cut words)
        for gram in bigrams(norm):
            self._add_term(weights, gram, CROSS_WEIGHT)
        return weights, topic

    def _close_kinds(self, agencies: list[AgencyMention]) -> frozenset[str]:
        """The kinds held that are close to one asked."""
        asked = {k for m in agencies for k in m.kinds}
        if not asked:
            return frozenset()
        return frozenset(
            held for held in self.known_kinds if any(close_kinds(k, held) for k in asked)
        )

    def read_english(self, norm: str) -> str:
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

    def _is_place_mention(self, name: str, cands: list[Place], before_agency: bool) -> bool:
        """A county's short name is often an ordinary word too (新建, 西湖, 江北): it names a
        place only when it is one the knowledge base holds, or an agency follows (西湖发改局).
        Full names (新建区) and cities' short names always count."""
        if any(c.name == name or c.level < 2 for c in cands) or before_agency:
            return True
        return any(h.contains(c) or c.contains(h) for c in cands for h in self.held_places)

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

    def _homophones(self, term: str) -> tuple[int, ...]:
        """Term ids of indexed bigrams read like a bigram term the index lacks (up to 8)."""
        if len(term) != 3:
            return ()
        return self.homophones.term_ids(term[1:])[:8]


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
