"""Question -> Answer: candidates from the index, fuzzy rescoring, entity checks, answer sentence.

The flow for one question:
1. analyse (reportqa.query): normalise, tokenise, find the places, agencies and years it names
   and the kind of value it asks for (多少家 -> a count of 家, 哪天 -> a date, 比例 -> a
   percentage);
2. score every passage with BM25 (words + bigrams; a bigram the index lacks is looked up by its
   pinyin, so homophone typos still match), weighted down for reports of another place or
   agency (reportqa.scope), and take the top candidates;
3. rescore the candidates with rapidfuzz against passage and section, and combine (combine());
4. pick the sentence that answers best in each passage;
5. decide whether to answer (confidence()): a question about a place, agency or year that the
   best passage does not belong to, or whose asked-for value or topic is not in it, gets an
   honest "no answer" together with what the knowledge base does cover.
"""

from __future__ import annotations

import re
from functools import cached_property

import numpy as np
from rapidfuzz import fuzz

from reportqa.index import Index
from reportqa.models import Answer, Fact, Hit, KnowledgeBase, Passage, Reason, Report
from reportqa.normalize import clean_input, normalize
from reportqa.pinyin import Homophones
from reportqa.places import Gazetteer
from reportqa.query import PINYIN_WEIGHT, Analyser, Query, ValueKind
from reportqa.scope import MISMATCH, Scope, years_fit
from reportqa.tokenize import BIGRAM, Tokenizer

CANDIDATES = 24  # passages that get fuzzy rescoring
YEAR_MISMATCH = 0.5
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

# With the words a number asked for belongs to in the answer sentence, a smaller share of the
# rest of the question will do (空气好的天数 -> 优良天数达到251天).
COVERAGE_ANCHORED = 0.25
# A plan (工作要点, 计划, 方案) states targets; a question about what was actually achieved
# cannot be answered from it.
PLAN_TYPES = ("要点", "计划", "方案")
_OUTCOME = re.compile(r"实际|最终|最后.{0,3}(?:达到|完成|实现)|(?:达到|完成|实现)了(?!吗)")
_SENT_SPLIT = re.compile(r"(?<=[。！？!?；;\n])")


class Engine:
    """Answers questions from one knowledge base.

    The knowledge base, the index and everything derived from them in __init__ never change
    after it is built. As questions come it fills bounded caches of values derived from them
    (normalised passages, sentences; the scope's factor memos), so sharing one engine is safe:
    a cache miss at worst computes the same value twice."""

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
        self.scope = Scope(kb.reports, gaz)
        self.homophones = Homophones(index.vocab, BIGRAM, CACHE_LIMIT)
        self.analyser = Analyser(
            index, tokenizer, gaz, self.scope.known_kinds, self.scope.held_places, self.homophones
        )
        # Filled as questions come: normalising a passage costs more than scoring it.
        self._norms: dict[int, str] = {}
        self._sentence_cache: dict[str, tuple[list[str], list[str]]] = {}
        self._value_cache: dict[tuple[int, str], bool] = {}
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
            return Answer(question, False, (), 0.0, Reason.NOTHING_TO_SEARCH, (), self.coverage)
        factors = self.scope.factors(query, report_ids)
        scores = self.index.score(query.term_weights) * factors[self.passage_report]
        cand = self._candidates(scores)
        if len(cand) == 0:
            return Answer(question, False, (), 0.0, Reason.NOTHING_FOUND, (), self.coverage)
        ranked = self._rank(query, scores, cand, max(top, 1))
        hits = []
        for score, i, _, _ in ranked:
            ri, passage = self.entries[i]
            hits.append(
                Hit(self.kb.reports[ri], passage, self.best_sentence(query, passage), score)
            )
        _, top_i, top_norm, year_ok = ranked[0]
        conf, reason, data = self.confidence(query, factors, top_i, top_norm, year_ok, hits[0])
        if reason is not None:
            return Answer(question, False, tuple(hits), conf, reason, data, self.coverage)
        info = self.scope.reports[self.entries[top_i][0]]
        named = self.scope.stand_in(query, info) if query.agencies else ""
        stand_in = None
        if named and not self.scope.named_exactly(query, info):
            stand_in = (named, info.report.agency)
        return Answer(question, True, tuple(hits), conf, stand_in=stand_in)

    def _candidates(self, scores: np.ndarray) -> np.ndarray:
        """The passages of the CANDIDATES best BM25 scores above 0, best first."""
        k = min(CANDIDATES, len(scores))
        if k == 0 or float(scores.max(initial=0.0)) <= 0.0:
            return np.zeros(0, dtype=np.int64)
        cand = np.argpartition(-scores, k - 1)[:k]
        cand = cand[scores[cand] > 0]
        return cand[np.argsort(-scores[cand], kind="stable")]  # type: ignore[no-any-return]

    def _rank(
        self, query: Query, scores: np.ndarray, cand: np.ndarray, top: int
    ) -> list[tuple[float, int, str, bool]]:
        """The `top` best candidates by combined score: (score, passage, its normalised text,
        whether its year is the one asked)."""
        best = float(scores[cand[0]])
        ranked: list[tuple[float, int, str, bool]] = []
        kept: list[float] = []  # the best `top` combined scores so far, descending
        definite = query.value if query.value and query.value.name != "number" else None
        about_document = bool(query.value and query.value.name in ("date", "docno"))
        for i in (int(c) for c in cand):
            rel = float(scores[i]) / best
            full = len(kept) >= top
            if full and combine(rel, 1.0, True) < kept[-1]:
                break  # every later candidate scores less than the hits already found
            ri, passage = self.entries[i]
            norm = self._passage_norm(i)
            year_ok = years_fit(query, self.scope.reports[ri].report, norm)
            info_only = passage.section[:1] == (INFO_SECTION,) and not about_document
            value_ok = definite is None or self._holds(i, definite)
            factor = combine(1.0, 0.0, year_ok, info_only, value_ok)  # its penalties
            # the fuzzy ratio it needs to enter the hits: rapidfuzz stops early below it
            need = (kept[-1] / factor - rel) / FUZZ_WEIGHT * 100.0 if full else 0.0
            if need > 100.0:
                continue
            cutoff = max(need, 0.0)
            fuzzy = fuzz.partial_ratio(query.norm, norm, score_cutoff=cutoff) / 100.0
            score = combine(rel, fuzzy if query.norm else 0.0, year_ok, info_only, value_ok)
            if full and score < kept[-1]:
                continue
            ranked.append((score, i, norm, year_ok))
            kept = sorted([*kept, score], reverse=True)[:top]
        ranked.sort(key=lambda r: -r[0])
        return ranked[:top]

    def analyse(self, question: str) -> Query:
        """The question analysed against this knowledge base (reportqa.query)."""
        return self.analyser.analyse(question)

    @cached_property
    def coverage(self) -> tuple[Report, ...]:
        """What the knowledge base covers, told with a no-answer (render.coverage_line words it)."""
        return tuple(self.kb.reports)

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
        self, q: Query, factors: np.ndarray, i: int, norm: str, year_ok: bool, hit: Hit
    ) -> tuple[float, Reason | None, tuple[str, ...]]:
        """A confidence in [0, 1] for answering with passage i, and the reason (with its
        data) not to answer, if there is one. `factors` are the report factors of the search."""
        ri, _ = self.entries[i]
        info = self.scope.reports[ri]
        agency = self.scope.agency_factor(q, info)
        if q.places and factors[ri] <= MISMATCH and agency > MISMATCH:
            where = tuple(dict.fromkeys(max(c, key=lambda p: p.level).name for c in q.places))
            return 0.1, Reason.NO_REPORT_OF_PLACE, where
        named_here = any(len(m.text) >= 3 and m.text in norm for m in q.agencies)
        if q.agencies and agency <= MISMATCH and not named_here:
            return 0.1, Reason.NO_REPORT_OF_AGENCY, tuple(m.text for m in q.agencies)
        if not year_ok:
            return 0.2, Reason.NO_YEAR, tuple(str(y) for y in q.years)
        if info.report.doc_type.endswith(PLAN_TYPES) and _OUTCOME.search(q.norm):
            return 0.2, Reason.PLAN_ONLY, (info.report.doc_type,)
        covered = self.coverage_of(q, norm)
        if q.value is not None and not q.value.found(normalize(hit.sentence)):
            return covered * 0.5, Reason.NO_VALUE, (q.value.name,)
        if not q.topic:
            return 0.0, Reason.NO_TOPIC, ()
        if covered >= COVERAGE_ANCHORED and q.anchors and q.value is not None:
            sentence = normalize(hit.sentence)
            if any(self._mentions(a, sentence) for a in q.anchors):
                return covered, None, ()  # the number asked for, with what it counts
        if covered < COVERAGE_MIN:
            return covered, Reason.NOT_COVERED, ()
        return covered, None, ()

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
        return self.homophones.strings(pair)

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
