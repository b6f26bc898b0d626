"""One tokenizer for documents and questions: jieba words plus character bigrams.

A dedicated `jieba.Tokenizer` (never the global one) gets a user dictionary built from the
knowledge base itself: agency names and short names, quoted regulation titles 《…》, quoted
terms “…” and short section headings. Character bigrams of every run of Chinese characters sit
beside the words, so typos, unsegmented words and words jieba cuts differently still match.
Numbers stay whole tokens. The input is always normalised text (see normalize.py).

A report is cut with jieba's dictionary and its own words only (`Tokenizer.with_words`), so
its terms depend on its own bytes and can be computed once and kept (reportqa.segment); a
question is cut with the words of every report. User words are set into jieba's frequency
table without raising its total (jieba's `add_word` raises it): jieba then cuts a text by the
frequencies of the text's own substrings alone, so a word that does not occur in a text can
never change how that text is cut.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import jieba

from reportqa.cut import cut

if TYPE_CHECKING:
    from reportqa.models import KnowledgeBase, Report

BIGRAM = "_"  # prefix that keeps bigram terms apart from word terms
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_WORD_OK = re.compile(r"[\u4e00-\u9fff]|[a-z]{2,}|\d")
_QUOTED = re.compile(r"《([^《》]{2,40})》|“([^“”]{2,20})”")
# Particles and question words: they carry no topic, in questions or in reports.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "或",
        "在",
        "是",
        "为",
        "对",
        "把",
        "被",
        "将",
        "于",
        "以",
        "等",
        "也",
        "都",
        "又",
        "并",
        "其",
        "中",
        "上",
        "下",
        "个",
        "之",
        "这",
        "那",
        "有",
        "啊",
        "呀",
        "吗",
        "呢",
        "吧",
        "嘛",
        "哦",
        "哈",
        "么",
        "咋",
        "啥",
        "多少",
        "几",
        "哪",
        "哪些",
        "哪个",
        "哪里",
        "哪儿",
        "什么",
        "怎么",
        "怎样",
        "如何",
        "是否",
        "有没有",
        "谁",
        "何",
        "何时",
        "哪天",
        "几个",
        "请问",
        "一下",
        "一共",
        "总共",
        "共",
        "到底",
        "具体",
        "主要",
        "大概",
        "大约",
        "左右",
        "呢",
        "请",
        "我",
        "你",
        "他",
        "我们",
        "你们",
        "他们",
    ]
)

logging.getLogger("jieba").setLevel(logging.WARNING)


USER_FREQ = 2000  # jieba frequency of a user word: enough to keep it whole


@lru_cache(maxsize=1)
def _base_dictionary() -> tuple[dict[str, int], int]:
    """jieba's own dictionary (word -> frequency, and the total), read once per process from
    jieba's cache file in the temporary folder."""
    base = jieba.Tokenizer()
    base.cache_file = str(Path(tempfile.gettempdir()).resolve() / "jieba.cache")
    base.initialize()
    return base.FREQ, base.total


def _set_words(freq: dict[str, int], words: Iterable[str]) -> list[tuple[str, int | None]]:
    """Put user words into a jieba frequency table (their prefixes too, at 0, as jieba's
    add_word does, so its DAG scan reaches them); what was there before, to undo it."""
    saved: list[tuple[str, int | None]] = []
    for word in words:
        saved.append((word, freq.get(word)))
        freq[word] = USER_FREQ
        for end in range(1, len(word)):
            prefix = word[:end]
            if prefix not in freq:
                saved.append((prefix, None))
                freq[prefix] = 0
    return saved


def _unset_words(freq: dict[str, int], saved: list[tuple[str, int | None]]) -> None:
    for word, before in reversed(saved):
        if before is None:
            del freq[word]
        else:
            freq[word] = before


class Tokenizer:
    """Words (jieba with the knowledge base's own dictionary) and character bigrams."""

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        freq, total = _base_dictionary()
        self._jieba = jieba.Tokenizer()
        self._jieba.FREQ = dict(freq)  # a copy: user words never reach another tokenizer
        self._jieba.total = total
        self._jieba.initialized = True
        self.user_words = tuple(sorted(set(user_words)))
        _set_words(self._jieba.FREQ, self.user_words)

    @contextmanager
    def with_words(self, words: Iterable[str]) -> Iterator[Tokenizer]:
        """This tokenizer with `words` added for the block (a report's own words while its
        passages are cut); not to be shared between threads meanwhile."""
        saved = _set_words(self._jieba.FREQ, words)
        try:
            yield self
        finally:
            _unset_words(self._jieba.FREQ, saved)

    def cut(self, text: str) -> list[str]:
        """Every jieba token of text, as `jieba.Tokenizer.cut(text, HMM=True)` gives them
        (reportqa.cut: the same tokens, faster)."""
        return cut(text, self._jieba.FREQ, self._jieba.total)

    def words(self, text: str) -> list[str]:
        """jieba words of normalised text, without punctuation and particles."""
        return [w for w in self.cut(text) if _is_word(w)]

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Every jieba token of normalised text with its offsets (nothing filtered)."""
        out = []
        pos = 0
        for token in self.cut(text):
            out.append((pos, pos + len(token), token))
            pos += len(token)
        return out

    def name_like(self, text: str) -> list[str]:
        """The words of two or three characters that may be personal names: tagged nr in
        jieba's dictionary, or unknown to it (found by its HMM, as most names are)."""
        names = _dictionary_names()
        return [
            w
            for w in self.cut(text)
            if 2 <= len(w) <= 3 and (w in names or not self._jieba.FREQ.get(w))
        ]

    def terms(self, text: str) -> list[str]:
        """The index terms of normalised text: words, then bigrams (prefixed with BIGRAM)."""
        return self.words(text) + bigrams(text)


@lru_cache(maxsize=1 << 18)
def _is_word(token: str) -> bool:
    """Whether a jieba token is an index word: not space, punctuation or a particle."""
    return bool(token.strip()) and token not in STOPWORDS and _WORD_OK.search(token) is not None


@lru_cache(maxsize=1)
def _dictionary_names() -> frozenset[str]:
    """jieba's dictionary words of two or three characters tagged as personal names (nr)."""
    from reportqa.places import jieba_words

    return frozenset(w for w in jieba_words(flag="nr") if len(w) <= 3)


def bigrams(text: str) -> list[str]:
    """Character bigrams of each run of Chinese characters (a lone character is its own term)."""
    out: list[str] = []
    for run in _HAN_RUN.findall(text):
        if len(run) == 1:
            out.append(BIGRAM + run)
        else:  # each pair of neighbours, BIGRAM + a + b (map: the loop runs in C)
            out.extend(map(BIGRAM.__add__, map(str.__add__, run, run[1:])))
    return out


def user_words_from(texts: Iterable[str], names: Iterable[str]) -> set[str]:
    """The user dictionary: names given (agencies, headings) and quoted titles and terms."""
    words = {n for n in names if 2 <= len(n) <= 20 and _HAN_RUN.fullmatch(n)}
    for text in texts:
        for m in _QUOTED.finditer(text):
            inner = m.group(1) or m.group(2)
            words.update(r for r in _HAN_RUN.findall(inner) if 2 <= len(r) <= 20)
    return words


def report_words(report: Report) -> set[str]:
    """A report's own words for the tokenizer: its agency, short names (but see below),
    places and short headings, and the titles and terms its text quotes."""
    # 区发改局, 市经信委: a level word glued to an agency would hide the end of the place
    # before it (西湖|区发改局), so those short forms stay out of the dictionary
    shorts = [s for s in report.agency_short if s[:1] not in "省市区县"]
    names = [report.agency, *shorts, *report.region]
    names.extend(h for p in report.passages for h in p.section if len(h) <= 12)
    return user_words_from((p.text for p in report.passages), names)


def user_words_for(kb: KnowledgeBase) -> set[str]:
    """The question tokenizer's user dictionary: every report's own words."""
    return set().union(*(report_words(r) for r in kb.reports))
