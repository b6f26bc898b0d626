"""query.py: a question analysed once into a frozen Query (terms, topic, entities, value)."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from reportqa.index import Index
from reportqa.pinyin import Homophones
from reportqa.places import gazetteer
from reportqa.query import (
    CROSS_WEIGHT,
    ENTITY_WEIGHT,
    MAX_QUESTION,
    PINYIN_WEIGHT,
    Analyser,
    Query,
    ValueKind,
    names_a_person,
)
from reportqa.tokenize import BIGRAM, Tokenizer

# Four normalised passages: 学习 is in two of them, every other term in one.
TEXTS = ["全年开展法律法规学习8次", "组织学习宣传活动12次", "舟山市公开政府信息320条", "gdp增长"]
IDF_ONE = math.log1p((4 - 1 + 0.5) / (1 + 0.5))  # Lucene idf of a term in one of four texts
IDF_TWO = math.log1p((4 - 2 + 0.5) / (2 + 0.5))


@pytest.fixture(scope="module")
def analyser() -> Analyser:
    """An analyser over TEXTS for a knowledge base holding one 科学技术局 of 舟山市."""
    tokenizer = Tokenizer(["科技局"])
    index = Index.build(TEXTS, tokenizer.terms)
    gaz = gazetteer()
    kinds = {"科学技术局": "科学技术局"}
    homophones = Homophones(index.vocab, BIGRAM)
    return Analyser(index, tokenizer, gaz, kinds, list(gaz.by_name["舟山市"]), homophones)


def codes(q: Query) -> list[list[str]]:
    """The candidate codes of each place a question names."""
    return [[p.code for p in cands] for cands in q.places]


def test_places_agencies_and_years_of_a_question(analyser: Analyser) -> None:
    q = analyser.analyse("舟山科技局2020年开展法律法规学习几次？")
    assert q.norm == "舟山科技局2020年开展法律法规学习几次?"
    assert q.entities == ((0, 2, "place"), (2, 5, "agency"), (5, 10, "year"))
    assert codes(q) == [["330900000000"]]
    assert [(m.text, m.kinds) for m in q.agencies] == [("科技局", frozenset({"科学技术局"}))]
    assert q.years == (2020,)
    assert (q.owners, q.chained) == (frozenset({0}), ((),))  # 舟山 is the agency's own place
    assert q.value is not None and q.value.name == "count"
    assert q.anchors == ("学习",)


def test_term_weights_and_topic(analyser: Analyser) -> None:
    q = analyser.analyse("舟山市开展法率学习")
    vocab = analyser.index.vocab
    weights = {t: q.term_weights[tid] for t, tid in vocab.items() if tid in q.term_weights}
    assert weights == pytest.approx(
        {
            "舟山市": ENTITY_WEIGHT,  # a place: the metadata checks handle it
            "_舟山": ENTITY_WEIGHT,
            "_山市": ENTITY_WEIGHT,
            "开展": 1.0,
            "_开展": 1.0,
            "_法律": PINYIN_WEIGHT,  # 法率 is not indexed; 法律 reads the same
            "学习": 1.0,
            "_学习": 1.0,
            "_展法": CROSS_WEIGHT,  # straddles 开展|法率
        }
    )
    # the topic leaves out the place; a bigram the index lacks counts as the rarest term
    assert q.topic == pytest.approx({"开展": IDF_ONE, "法率": IDF_ONE, "学习": IDF_TWO})


def test_places_written_together_and_the_agency_they_own(analyser: Analyser) -> None:
    q = analyser.analyse("杭州市上城区发改局")
    assert codes(q) == [["330100000000"], ["330102000000"]]
    assert q.chained == ((1,), (0,))
    assert q.owners == frozenset({1})  # 上城区 is written right before 发改局
    assert [(m.text, m.start, m.end) for m in q.agencies] == [("发改局", 6, 9)]
    assert q.term_weights == {} and q.topic == {}  # nothing but names


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("西湖的风景", []),  # a county's short name that is an ordinary word
        ("西湖发改局", [["360103000000", "330106000000"]]),  # ... unless an agency follows
        ("普陀法律学习", [["330903000000", "310107000000"]]),  # one of them is held (舟山)
        ("上海普陀法律学习", [["310000000000"]]),  # 上海's 普陀 alone: not held
        ("新建区法律", [["360112000000"]]),  # a full name always counts
    ],
)
def test_when_a_short_county_name_is_a_place(
    analyser: Analyser, question: str, expected: list[list[str]]
) -> None:
    assert codes(analyser.analyse(question)) == expected


@pytest.mark.parametrize(
    ("question", "years"),
    [
        ("2019年和2020的数据", (2019, 2020)),
        ("增长2020%以及2020.5和12020", ()),  # a percentage, a decimal, a longer number
        ("《2020年规划》学习", ()),  # inside a title
    ],
)
def test_years_asked(analyser: Analyser, question: str, years: tuple[int, ...]) -> None:
    assert analyser.analyse(question).years == years


@pytest.mark.parametrize(
    ("question", "close"),
    [
        ("舟山市科委法率学习", frozenset({"科学技术局"})),  # held, close to 科学技术委员会
        ("舟山市科学技术局学习", frozenset()),  # the very kind held is not a close one
        ("法律学习", frozenset()),
    ],
)
def test_close_kinds_held(analyser: Analyser, question: str, close: frozenset[str]) -> None:
    assert analyser.analyse(question).close_kinds == close


@pytest.mark.parametrize(
    ("norm", "read"),
    [
        ("how many基站", "多少基站"),
        ("gdp和cpi多少", "gdp 生产总值和 居民消费价格 多少"),  # gdp is indexed, cpi is not
        ("5g基站what percentage", "5g基站比例是多少"),  # a word with a digit stays
        ("when的odr", "什么时候的 "),  # an unknown word is dropped
        ("法律学习", "法律学习"),
    ],
)
def test_english_read_as_meant(analyser: Analyser, norm: str, read: str) -> None:
    assert analyser.read_english(norm) == read


def test_a_role_holder_asked_is_a_person_found_by_the_tokenizer(analyser: Analyser) -> None:
    value = analyser.analyse("舟山市科技局局长是谁").value
    assert value is not None and value.name == "person"
    assert value.found("局党组书记、局长李明主持召开专题会议")
    assert not value.found("由局长任组长、分管领导任副组长")
    assert names_a_person(["李明"]) and not names_a_person(["组长"]) and not names_a_person([])


def test_a_value_kind_with_a_test_ignores_its_pattern() -> None:
    kind = ValueKind("x", re.compile("a"), test=lambda t: t == "b")
    assert (kind.found("b"), kind.found("a")) == (True, False)
    assert ValueKind("y", re.compile(r"\d")).found("第3") is True


def test_an_entity_before_how_many_is_no_anchor(analyser: Analyser) -> None:
    q = analyser.analyse("舟山市科技局有多少")
    assert q.value is not None and q.value.name == "number"
    assert q.anchors == ()


def test_a_long_question_is_cut_and_the_query_is_frozen(analyser: Analyser) -> None:
    question = "法" * (MAX_QUESTION + 100)
    q = analyser.analyse(question)
    assert (q.text, q.norm) == (question, "法" * MAX_QUESTION)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.norm = ""  # type: ignore[misc]
