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

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from rapidfuzz import fuzz

from reportqa.agencies import AgencyMention, agency_kind, find_agencies, is_abbreviation
from reportqa.index import Index
from reportqa.models import Answer, Fact, Hit, KnowledgeBase, Passage, Report
from reportqa.normalize import normalize
from reportqa.places import Gazetteer, Place
from reportqa.tokenize import BIGRAM, STOPWORDS, Tokenizer, bigrams

MAX_QUESTION = 300  # characters analysed; a longer message is cut, not refused
CANDIDATES = 40  # passages that get fuzzy rescoring
MISMATCH = 0.25  # score factor for a report of another place or agency than the one named
BROADER = 0.85  # score factor for a report of a wider area than the one named (市 for 区)
YEAR_MISMATCH = 0.5
PINYIN_WEIGHT = 0.7  # a homophone bigram counts this much of an exact one
FUZZ_WEIGHT = 0.35
COVERAGE_MIN = 0.5  # share of the question's topic (idf-weighted) the passage must hold
FACT_MIN = 82.0  # rapidfuzz score from which a curated fact answers the question

_YEAR_Q = re.compile(r"(?<!\d)((?:19[5-9]|20[0-9])\d)(?:\s*年|(?![\d.%]))")
_QUOTE = re.compile(r"《[^》]*》")
_NUM = r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千万零〇]+)"
_SENT_SPLIT = re.compile(r"(?<=[。！？!?；;\n])")
_UNIT_ALIASES = {"天": "天日", "日": "天日", "人": "人名", "名": "名人", "次": "次场", "场": "场次",
                 "元": "元", "钱": "元"}


@dataclass(frozen=True)
class ValueKind:
    """What kind of value a question asks for, as a pattern the answer sentence must match."""

    name: str
    pattern: re.Pattern[str]


def value_kind(q: str) -> ValueKind | None:
    """The value asked for by a normalised question, if it asks for one."""
    if re.search(r"多少钱|多少元|金额|罚款|罚没|花了多少|花多少|资金.{0,4}多大", q):
        return ValueKind("money", re.compile(rf"{_NUM}\s*(?:余|多)?\s*[万亿]?元"))
    if re.search(r"文号|发文字号", q):
        return ValueKind("docno", re.compile(r"〔\d{4}〕|\[\d{4}\]|\d+号"))
    if re.search(r"哪天|哪一天|什么时候|何时|哪个月|几月|哪年|哪一年|日期|什么时间", q):
        return ValueKind("date", re.compile(r"\d{4}\s*[年\-/.]|\d{1,2}\s*月|年底|年初|年内|月底"))
    if re.search(r"比例|占比|百分|率.{0,6}(?:多少|几|目标)|(?:多少|几).{0,3}率", q):
        return ValueKind("percent", re.compile(rf"{_NUM}\s*%|百分之"))
    if re.search(r"多久|多长时间|(?:多少|几)个?(?:天|工作日)", q):
        return ValueKind("duration", re.compile(rf"{_NUM}\s*(?:个)?\s*(?:工作日|天|日|月|小时)"))
    m = re.search(r"(?<!哪)(?:多少|几)\s*个?([\u4e00-\u9fff])", q)
    if m and m.group(1) not in "个年":
        units = _UNIT_ALIASES.get(m.group(1), m.group(1))
        return ValueKind(
            "count", re.compile(rf"{_NUM}\s*(?:余|多)?\s*[万亿]?\s*(?:余|多)?\s*[{units}]")
        )
    if m or re.search(r"(?<!哪)(?:多少|几)", q):
        return ValueKind("number", re.compile(_NUM))
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
    words: list[str] = field(default_factory=list)


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
            _ReportInfo(r, gaz.resolve(r.region), agency_kind(normalize(r.agency)),
                        normalize(r.agency))
            for r in kb.reports
        ]
        self.known_kinds = {i.kind: i.kind for i in self.reports if i.kind}
        self._fact_keys = [
            (f, [normalize(q) for q in (f.question, *f.alternatives)]) for f in kb.facts
        ]

    # ------------------------------------------------------------------ public

    def ask(
        self, question: str, top: int = 3, report_ids: frozenset[str] | None = None
    ) -> Answer:
        """Answer one question with up to `top` hits, best first."""
        query = self.analyse(question)
        if not query.term_weights and not query.topic:
            return Answer(question, False, (), 0.0, "问题里没有可以检索的内容", self.coverage)
        mult = self._report_factors(query, report_ids)
        scores = self.index.score(query.term_weights) * mult[self.passage_report]
        k = min(CANDIDATES, len(scores))
        if k == 0 or float(scores.max(initial=0.0)) <= 0.0:
            return Answer(question, False, (), 0.0, "知识库中没有找到相关内容", self.coverage)
        cand = np.argpartition(-scores, k - 1)[:k]
        cand = cand[scores[cand] > 0]
        best = float(scores[cand].max())
        ranked = []
        for i in cand:
            ri, passage = self.entries[int(i)]
            info = self.reports[ri]
            norm = normalize(" ".join(passage.section) + " " + passage.text)
            year_ok = self._year_ok(query, info.report, norm)
            fuzzy = fuzz.partial_ratio(query.norm, norm) / 100.0 if query.norm else 0.0
            score = combine(float(scores[i]) / best, fuzzy, year_ok)
            ranked.append((score, int(i), norm, year_ok))
        ranked.sort(key=lambda r: -r[0])
        hits: list[Hit] = []
        fact_hit = self._fact(query, report_ids)
        if fact_hit is not None:
            hits.append(fact_hit)
        for score, i, _, _ in ranked[: max(top, 1) + 1]:
            ri, passage = self.entries[i]
            sentence = self.best_sentence(query, passage)
            hits.append(Hit(self.kb.reports[ri], passage, sentence, score))
        hits = hits[: max(top, 1)]
        if fact_hit is not None:
            return Answer(question, True, tuple(hits), 1.0)
        top_score, top_i, top_norm, year_ok = ranked[0]
        answered, conf, reason = self.confidence(query, top_i, top_norm, year_ok, hits[0])
        return Answer(question, answered, tuple(hits), conf, reason,
                      () if answered else self.coverage)

    @cached_property
    def coverage(self) -> tuple[str, ...]:
        """What the knowledge base covers: one line per report (agency, year, title)."""
        return tuple(
            f"{r.agency or '未知机构'}（{r.year or '年份不详'}）{r.title}" for r in self.kb.reports
        )

    # ------------------------------------------------------------------ analysis

    def analyse(self, question: str) -> Query:
        norm = normalize(question)[:MAX_QUESTION]
        outside_quotes = _QUOTE.sub(lambda m: " " * len(m.group(0)), norm)
        places = [cands for _, _, cands in self.gaz.find(outside_quotes)]
        agencies = find_agencies(outside_quotes, self.known_kinds)
        years = [int(y) for y in _YEAR_Q.findall(outside_quotes)]
        words = self.tokenizer.words(norm)
        terms = words + bigrams(norm)
        weights: dict[int, float] = {}
        topic: dict[str, float] = {}
        entity_spans = [m.group(0) for m in re.finditer(r"\d{4}年?", norm)]
        entity_spans += [m.text for m in agencies]
        for term in terms:
            tid = self.index.vocab.get(term)
            if tid is not None:
                weights[tid] = 1.0
            elif term.startswith(BIGRAM):
                for alt in self._homophones(term):
                    weights.setdefault(alt, PINYIN_WEIGHT)
        for term in dict.fromkeys(terms):
            if not term.startswith(BIGRAM) or len(term) != 3:
                continue
            pair = term[1:]
            if pair in STOPWORDS or any(pair in s for s in entity_spans):
                continue
            if any(pair in name for p in places for name in (c.name for c in p)):
                continue
            tid = self.index.vocab.get(term)
            idf = float(self.index.idf[tid]) if tid is not None else self._max_idf
            topic[pair] = idf
        return Query(question, norm, weights, topic, places, agencies, years,
                     value_kind(norm), words)

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
        if len(term) != 3:
            return []
        from reportqa.pinyin import bigram_keys

        found: list[int] = []
        for key in bigram_keys(term[1:]):
            found.extend(self._pinyin_map.get(key, ()))
        return found[:8]

    # ------------------------------------------------------------------ entity checks

    def _report_factors(self, q: Query, report_ids: frozenset[str] | None) -> np.ndarray:
        out = np.ones(len(self.reports))
        for ri, info in enumerate(self.reports):
            if report_ids is not None and info.report.report_id not in report_ids:
                out[ri] = 0.0
                continue
            out[ri] = self._place_factor(q, info) * self._agency_factor(q, info)
        return out

    def _place_factor(self, q: Query, info: _ReportInfo) -> float:
        if not q.places:
            return 1.0
        if info.place is None:
            return MISMATCH
        factor = 1.0
        for cands in q.places:
            if any(c.contains(info.place) for c in cands):
                continue
            if any(info.place.contains(c) for c in cands):
                factor *= BROADER
                continue
            return MISMATCH
        return factor

    def _agency_factor(self, q: Query, info: _ReportInfo) -> float:
        if not q.agencies:
            return 1.0
        for m in q.agencies:
            if info.kind and (info.kind in m.kinds or is_abbreviation(m.text, info.kind)):
                return 1.0
            if is_abbreviation(m.text, info.agency_norm[-len(m.text) * 3 :] or "x"):
                return 1.0
        return MISMATCH

    def _year_ok(self, q: Query, report: Report, passage_norm: str) -> bool:
        return all(y == report.year or str(y) in passage_norm for y in q.years)

    # ------------------------------------------------------------------ answer

    def best_sentence(self, q: Query, passage: Passage) -> str:
        """The sentence of the passage that holds most of the question (and its value)."""
        sentences = [s.strip() for s in _SENT_SPLIT.split(passage.text) if s.strip()]
        if not sentences:
            return passage.text
        best, best_score = sentences[0], -1.0
        for s in sentences:
            norm = normalize(s)
            score = sum(w for pair, w in q.topic.items() if pair in norm)
            if q.value is not None and q.value.pattern.search(norm):
                score *= 1.5
            if score > best_score:
                best, best_score = s, score
        return best

    def confidence(
        self, q: Query, i: int, norm: str, year_ok: bool, hit: Hit
    ) -> tuple[bool, float, str]:
        """Whether to answer, with a confidence in [0, 1] and the reason when not."""
        ri, _ = self.entries[i]
        info = self.reports[ri]
        if q.places and self._place_factor(q, info) < 1.0 - 1e-9 and self._place_factor(
            q, info
        ) <= MISMATCH:
            return False, 0.1, "知识库中没有问题所问地区的报告"
        if q.agencies and self._agency_factor(q, info) <= MISMATCH:
            names = "、".join(m.text for m in q.agencies)
            return False, 0.1, f"知识库中没有{names}的报告"
        if not year_ok:
            years = "、".join(str(y) for y in q.years)
            return False, 0.2, f"知识库中没有{years}年的相关内容"
        total = sum(q.topic.values()) or 1.0
        covered = sum(w for pair, w in q.topic.items() if pair in norm) / total
        value_ok = q.value is None or bool(q.value.pattern.search(normalize(hit.sentence)))
        conf = covered * (1.0 if value_ok else 0.5)
        if not value_ok:
            return False, conf, "报告中没有问题所问的数值"
        if covered < COVERAGE_MIN:
            return False, conf, "报告中没有谈到这个问题"
        return True, conf, ""

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


def combine(bm25: float, fuzzy: float, year_ok: bool) -> float:
    """The one place where scores meet: BM25 relative to the best candidate (0-1), plus the
    rapidfuzz partial ratio of question and passage (0-1) weighted by FUZZ_WEIGHT, times a
    penalty when the passage's report and text are of another year than the question's."""
    return (bm25 + FUZZ_WEIGHT * fuzzy) * (1.0 if year_ok else YEAR_MISMATCH)


def build_engine(kb: KnowledgeBase, tokenizer: Tokenizer, gaz: Gazetteer,
                 index: Index | None = None) -> Engine:
    """An engine over `kb`, building the index unless a saved one is given."""
    if index is None:
        index = Index.build(index_texts(kb), tokenizer.terms)
    return Engine(kb, index, tokenizer, gaz)


def index_texts(kb: KnowledgeBase) -> Sequence[str]:
    """What is indexed for each passage: its section path and text, normalised."""
    return [normalize(" ".join(p.section) + " " + p.text) for r in kb.reports for p in r.passages]
