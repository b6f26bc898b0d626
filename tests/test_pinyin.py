"""pinyin.py: toneless readings, the pinyin keys of bigrams, and indexed homophone bigrams."""

from __future__ import annotations

import pytest

from reportqa.pinyin import Homophones, bigram_keys, readings


@pytest.mark.parametrize(
    ("char", "expected"),
    [
        ("银", ("yin",)),  # one reading, tone dropped
        ("行", ("xing", "hang")),  # the most common first, at most two
        ("和", ("he", "hu")),  # hé and hè are one toneless reading
        ("律", ("lv",)),  # lǜ: the ü stays (as v), so 律 does not read like 路 (lu)
        ("女", ("nv", "ru")),
        ("a", ("a",)),  # not in the table: the character itself
        ("，", ("，",)),
    ],
)
def test_readings(char: str, expected: tuple[str, ...]) -> None:
    assert readings(char) == expected


@pytest.mark.parametrize(
    ("pair", "keys"),
    [
        ("银航", ["yin hang"]),
        ("银行", ["yin xing", "yin hang"]),
        ("和长", ["he zhang", "he chang", "hu zhang", "hu chang"]),  # at most four
        ("法率", ["fa lv", "fa shuai"]),  # a typo of 法律 (fa lv), not of 法路 (fa lu)
        ("a1", ["a 1"]),
        ("银", []),  # only two characters have keys
        ("银行业", []),
    ],
)
def test_bigram_keys(pair: str, keys: list[str]) -> None:
    assert bigram_keys(pair) == keys


# Bigram terms are "_" + two characters; words, single characters and other marks are not.
VOCAB = {"_银杏": 0, "_银行": 1, "银行": 2, "_银": 3, "#银航": 4, "_引航": 5}


@pytest.fixture
def homophones() -> Homophones:
    return Homophones(VOCAB, "_")


@pytest.mark.parametrize(
    ("pair", "ids", "strings"),
    [
        ("银航", (5, 1), ("引航", "银行")),  # a typo finds what is indexed (in text order)
        ("银行", (0, 1, 5), ("银杏", "引航")),  # yin xing first, then yin hang; itself left out
        ("不在", (), ()),
        ("银", (), ()),
    ],
)
def test_indexed_bigrams_read_alike(
    homophones: Homophones, pair: str, ids: tuple[int, ...], strings: tuple[str, ...]
) -> None:
    assert homophones.term_ids(pair) == ids
    assert homophones.strings(pair) == strings


def test_the_bigram_mark_is_the_one_given() -> None:
    assert Homophones(VOCAB, "#").strings("银行") == ("银航",)


def test_a_homophone_typo_of_a_common_word() -> None:
    assert Homophones({"_法律": 0, "_法规": 1}, "_").strings("法率") == ("法律",)


def test_answers_stay_right_when_the_memo_is_forgotten() -> None:
    small = Homophones(VOCAB, "_", limit=1)
    first = [small.term_ids(p) for p in ("银航", "银行", "银航")]
    assert first == [(5, 1), (0, 1, 5), (5, 1)]
    assert len(small._memo) == 1  # emptied whenever it was full
