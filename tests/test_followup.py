"""followup.py: 「那科技局呢？」 asks the previous question again about another agency, place or
year. Uses the session engine over the bundled reports (conftest.py)."""

from __future__ import annotations

from typing import cast

import pytest

from reportqa.followup import rewrite
from reportqa.search import Engine

ASKED = "舟山经信局2020年信用宣传活动开展了多少次？"
TOPIC = "信用宣传活动开展了多少次?"  # the previous question's rest, normalised


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("那科技局呢？", f"科技局舟山2020年{TOPIC}"),  # the agency replaced, place and year kept
        ("科技局情况如何", f"科技局舟山2020年{TOPIC}"),
        ("上海的呢", f"上海2020年{TOPIC}"),  # a new place drops the old agency too
        ("那上城发改局呢", f"上城发改局2020年{TOPIC}"),
        ("2019年的呢", f"2019年舟山经信局{TOPIC}"),  # only the year replaced
        ("2019", f"2019年舟山经信局{TOPIC}"),  # 年 added to a bare year
        ("上海经信委2019年呢", f"上海经信委2019年{TOPIC}"),  # everything replaced
        ("那么舟山市科学技术局2019年的情况呢", f"舟山市科学技术局2019年{TOPIC}"),
        ("那舟山市科學技術局怎麼樣", f"舟山市科学技术局2020年{TOPIC}"),  # traditional
    ],
)
def test_a_follow_up_keeps_the_topic(engine: Engine, text: str, question: str) -> None:
    assert rewrite(engine, ASKED, text) == question


def test_a_new_place_drops_the_agency_of_the_previous_question(engine: Engine) -> None:
    previous = "科技局2020年学习法律法规几次"
    assert rewrite(engine, previous, "舟山呢") == "舟山2020年学习法律法规几次"
    assert rewrite(engine, previous, "2019年呢") == "2019年科技局学习法律法规几次"


@pytest.mark.parametrize(
    "text",
    [
        "谢谢",  # names nothing
        "你好呀",
        "那科技局的执法检查情况呢",  # asks about something of its own (执法检查)
        "那科技局的经费呢",  # a topic of two characters is a topic too (经费)
        "科技局领导班子学习法律法规几次",
    ],
)
def test_not_a_follow_up(engine: Engine, text: str) -> None:
    assert rewrite(engine, ASKED, text) is None


@pytest.mark.parametrize(
    "text",
    [
        "那舟山市科学技术局",  # over 8 characters, without 呢 or 怎么样
        "上海市经济和信息化委员会",
        "科技局呢" * 9,  # over 32 characters even with 呢
    ],
)
def test_a_long_message_is_refused_before_any_analysis(text: str) -> None:
    assert rewrite(cast(Engine, None), ASKED, text) is None
