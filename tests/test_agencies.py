"""agencies.py: kinds of agency, short forms, and agency mentions in questions."""

from __future__ import annotations

import pytest

from reportqa.agencies import (
    agency_kind,
    canonical_name,
    close_kinds,
    find_agencies,
    is_abbreviation,
    kind_stem,
    short_names,
)
from reportqa.places import gazetteer


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("舟山市科学技术局", "科学技术局"),
        ("上城区发改局", "发展改革和经济信息化局"),  # the short form's kind
        ("上海市经济和信息化委员会", "经济和信息化委员会"),
        ("淮安市洪泽区人民政府", "人民政府"),
        ("新华书店", None),
    ],
)
def test_agency_kind(name: str, kind: str | None) -> None:
    assert agency_kind(name) == kind


def test_abbreviations_keep_order_and_the_first_and_last_characters() -> None:
    assert is_abbreviation("经信委", "经济和信息化委员会")
    assert is_abbreviation("经济信息化委", "经济和信息化委员会")
    assert not is_abbreviation("信委", "经济和信息化委员会")  # another first character
    assert not is_abbreviation("委信经", "经济和信息化委员会")


def test_close_kinds_share_a_stem() -> None:
    assert kind_stem("科学技术委员会") == "科学技术"
    assert close_kinds("科学技术局", "科学技术委员会")
    assert not close_kinds("科学技术局", "司法局")


def test_canonical_and_short_names_of_a_place() -> None:
    gaz = gazetteer()
    (zhoushan,) = gaz.by_name["舟山市"]
    assert canonical_name("科学技术局", zhoushan, gaz) == "舟山市科学技术局"
    shorts = short_names("科学技术局", zhoushan, gaz)
    assert "舟山市科技局" in shorts and "舟山科技局" in shorts


def test_find_agencies_in_a_question() -> None:
    text = "舟山市科技局和上城发改局"
    found = find_agencies(text, {"科学技术局": "科学技术局"}, after_places=frozenset({9}))
    assert [(m.text, m.start) for m in found] == [("科技局", 3), ("发改局", 9)]
    assert "科学技术局" in found[0].kinds
    # a pronoun before the kind is not an agency of that kind: 我局
    assert find_agencies("我局开展了学法", {}) == []
