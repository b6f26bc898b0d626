"""Property tests of Engine.ask on the bundled knowledge base: whatever a user types, the engine
answers with a well-formed Answer and never raises."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import render
from reportqa.models import Answer, Reason

CJK = re.compile(r"[\u4e00-\u9fff]")

SPECIAL = [
    "",
    " ",
    "   \t\n  ",
    "\u3000\u3000",
    "？",
    "。。。。",
    "问" * 10_000,
    "舟山市科技局2020年公开信息数多少条？" * 600,  # ~12,000 characters of a real question
    "😀🎉🚀🇨🇳",
    "👨‍👩‍👧‍👦" * 50,
    "<script>alert(1)</script>",
    "'; DROP TABLE reports; --",
    "What did the Zhoushan science bureau publish in 2020?",
    "舟山市科技局 published 多少条 信息 in 2020年？",
    "Мир 世界 عالم 世界 🌍",
    "\x00\x01\x02\x1b[31m\x7f",
    "舟山\x00市科技局\x002020年",
    "\ufeff舟山市科技局",
    "\u200b\u200d\u202e舟山市科技局",
    "2020",
    "2020年",
    "20202020202020202020",
    "9" * 400,
    "多少",
    "几",
    "《》",
    "《舟山市科技创新促进条例》",
    "《" * 300,
    "第几",
    "多少钱多少元多少天多少个第几哪天比例",
    "上海市浙江省舟山市杭州市上城区普陀区宁波市北京市",
    "局局局局局局局局局",
    "%s %d {0} {} \\n \\x00",
    "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３",
    "臺灣繁體字問題：舟山市科技局2020年公開信息數是多少條？",
]

# arbitrary unicode without lone surrogates (st.text() already excludes category Cs), with
# control characters, emoji and every script
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=400)
CHINESEISH = st.text(
    st.sampled_from(
        list("舟山市科技局上城区发改局普陀区上海经信委2020年多少条件次公开信息？ 、。")
    ),
    max_size=60,
)


def check(answer: Answer, question: str, top: int = 3) -> None:
    assert isinstance(answer, Answer)
    assert answer.question == question
    assert isinstance(answer.answered, bool)
    assert len(answer.hits) <= top
    assert 0.0 <= answer.confidence <= 1.0
    scores = [h.score for h in answer.hits]
    assert scores == sorted(scores, reverse=True)
    if answer.answered:
        assert answer.hits, "an answer must cite at least one passage"
    else:
        assert isinstance(answer.reason, Reason)
        said = render.reason_text(answer)
        assert CJK.search(said), f"reason is not Chinese: {said!r}"
    for hit in answer.hits:
        assert (hit.sentence and hit.sentence in hit.passage.text) or hit.fact is not None
    data = answer.as_json()
    text = json.dumps(data, ensure_ascii=False)
    assert json.loads(text) == data
    json.dumps(data)  # and with ASCII escapes


@pytest.mark.parametrize("question", SPECIAL, ids=range(len(SPECIAL)))
def test_special_inputs(engine, question: str) -> None:  # type: ignore[no-untyped-def]
    check(engine.ask(question), question)


@pytest.mark.parametrize(
    "question",
    [
        "",
        " ",
        "\t\n",
        "'; DROP TABLE reports; --",
        "😀",
        "hello world",
        "多少",
        "<script>alert(1)</script>",
        "1",
        "😀1",
        "的的的",
    ],
)
def test_junk_is_not_answered(engine, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = engine.ask(question)
    check(answer, question)
    assert answer.answered is False
    assert answer.coverage, "a no-answer lists what the knowledge base covers"


@settings(max_examples=200, deadline=None)
@given(question=TEXT)
@example(question="\x00")
@example(question="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
def test_any_text(engine, question: str) -> None:  # type: ignore[no-untyped-def]
    check(engine.ask(question), question)


@settings(max_examples=100, deadline=None)
@given(question=CHINESEISH, top=st.integers(min_value=1, max_value=6))
def test_chinese_like_text_with_top(engine, question: str, top: int) -> None:  # type: ignore[no-untyped-def]
    check(engine.ask(question, top=top), question, top)


def test_lone_surrogate_does_not_raise(engine) -> None:  # type: ignore[no-untyped-def]
    question = "舟山市科技局\udcff公开信息数"
    answer = engine.ask(question)
    assert isinstance(answer.answered, bool)
