"""normalize.py: one search view of text for documents and questions."""

from __future__ import annotations

import pytest

from reportqa.normalize import clean_input, normalize, squeeze, to_simplified


@pytest.mark.parametrize(
    ("text", "view"),
    [
        (
            "舟山市經信局　２０２０年ＧＤＰ",
            "舟山市经信局2020年gdp",
        ),  # full width, traditional, case
        ("开展 6 次", "开展6次"),  # spaces between Chinese and digits go
        ("GOVERNMENT  INFORMATION 公开", "government information公开"),  # one kept between words
        ("审批\u200b事项\x07", "审批事项"),  # zero-width and control characters go
        ("", ""),
    ],
)
def test_normalize(text: str, view: str) -> None:
    assert normalize(text) == view


def test_squeeze_drops_every_space() -> None:
    assert squeeze(" GOVERNMENT INFORMATION 上城区 ") == "governmentinformation上城区"


def test_to_simplified_leaves_other_text() -> None:
    assert to_simplified("經濟和信息化局 abc") == "经济和信息化局 abc"
    assert to_simplified("") == ""


def test_clean_input_replaces_lone_surrogates_only() -> None:
    assert clean_input("问\udcff题") == "问\ufffd题"
    assert clean_input("问题 ") == "问题 "
