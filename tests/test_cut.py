"""cut.py gives exactly the tokens of jieba's own `Tokenizer.cut(text, HMM=True)`: on real
report texts (raw and normalised), on random text from their characters, with user words set."""

from __future__ import annotations

import random

import pytest

from reportqa.cut import cut
from reportqa.normalize import normalize
from reportqa.tokenize import Tokenizer, report_words
from tests.conftest import KNOWLEDGE, ROOT_DIR

CORPUS = ROOT_DIR / "tests" / "data" / "corpus"


def _texts() -> list[str]:
    from reportqa.kb import validate

    kb = validate.load(KNOWLEDGE)
    texts = [t for r in kb.reports for p in r.passages for t in (p.text, normalize(p.text))]
    texts += [h for r in kb.reports for p in r.passages for h in p.section]
    for path in sorted(CORPUS.glob("*.txt")):
        texts += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return texts


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _texts()


def _same(tok: Tokenizer, texts: list[str]) -> list[str]:
    """The texts on which cut.py and jieba disagree."""
    j = tok._jieba
    return [t for t in texts if cut(t, j.FREQ, j.total) != list(j.cut(t, HMM=True))]


def test_real_texts_cut_as_jieba_cuts_them(texts: list[str]) -> None:
    assert len(texts) > 2000
    assert _same(Tokenizer(), texts) == []


def test_with_report_words_too(texts: list[str]) -> None:
    from reportqa.kb import validate

    kb = validate.load(KNOWLEDGE)
    tok = Tokenizer()
    for report in kb.reports:
        with tok.with_words(report_words(report)):
            ours = [normalize(p.text) for p in report.passages]
            assert _same(tok, ours) == []


def test_random_text_cut_as_jieba_cuts_it(texts: list[str]) -> None:
    """Random strings of the reports' characters, digits, Latin letters, spaces and
    punctuation: unknown runs (jieba's HMM), ties, blocks of every kind."""
    rnd = random.Random(20261207)
    alphabet = sorted(set("".join(texts))) + list("ab1 .%-\r\n\t")
    samples = ["".join(rnd.choices(alphabet, k=rnd.randint(0, 80))) for _ in range(3000)]
    # and shuffled real sentences: real words in unseen neighbourhoods
    for _ in range(1000):
        t = list(rnd.choice(texts))
        rnd.shuffle(t)
        samples.append("".join(t))
    tok = Tokenizer(["法治政府建设", "行政复议", "依法行政"])
    assert _same(tok, samples) == []


def test_the_tokenizer_uses_it() -> None:
    tok = Tokenizer()
    text = "区司法局深入推进法治政府建设，全年办理行政复议案件１２３件。"
    assert tok.cut(text) == list(tok._jieba.cut(text, HMM=True))


def test_equal_scores_take_the_longer_word_as_jieba_does() -> None:
    """With a total of 1, 甲 and 乙 at 2 score exactly as 甲乙 at 4 (log 2 + log 2 = log 4):
    jieba's max over (score, end) takes the longer word; so must the fast pass."""
    import jieba

    j = jieba.Tokenizer()
    j.FREQ, j.total, j.initialized = {"甲": 2, "乙": 2, "甲乙": 4, "丙": 0}, 1, True
    for text in ("甲乙", "丙甲乙丙", "甲乙甲乙乙甲"):
        assert cut(text, j.FREQ, j.total) == list(j.cut(text, HMM=True))
    assert cut("甲乙", j.FREQ, j.total) == ["甲乙"]
