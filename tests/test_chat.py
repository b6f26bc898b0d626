"""chat.py: what a message is (help, small talk or a question) and the per-chat limits."""

from __future__ import annotations

import pytest

from chat import classify, question_id


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("帮助", "help"),
        ("  帮助 ", "help"),
        ("你好", "chitchat"),
        ("谢谢", "chitchat"),
        ("舟山科技局2020年开展了几次学法", None),
        ("你好，舟山科技局2020年开展了几次学法？", None),  # a greeting before a question
    ],
)
def test_classify(text: str, kind: str | None) -> None:
    assert classify(text) == kind


def test_question_ids_are_stable_and_scoped() -> None:
    q = "舟山科技局2020年开展了几次学法"
    assert question_id(q, None) == question_id(q, None)
    assert len(question_id(q, None)) == 10
    assert question_id(q, frozenset({"r1"})) != question_id(q, None)
    assert question_id(q, frozenset({"r1", "r2"})) == question_id(q, frozenset({"r2", "r1"}))
