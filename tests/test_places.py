"""places.py: the division list, longest-match name scanning, chains and containment."""

from __future__ import annotations

from reportqa.places import Gazetteer, first_char_lengths, gazetteer


def test_first_char_lengths_are_longest_first_and_skip_single_characters() -> None:
    lengths = first_char_lengths(["上城区", "上城", "上海市", "上", "舟山"])
    assert lengths == {"上": (3, 2), "舟": (2,)}


def _tiny() -> Gazetteer:
    rows = [
        ("330000000000", "浙江省"),
        ("330100000000", "杭州市"),
        ("330102000000", "上城区"),
        ("330900000000", "舟山市"),
        ("330903000000", "普陀区"),
        ("310000000000", "上海市"),
        ("310107000000", "普陀区"),
    ]
    return Gazetteer(rows, {})


def test_find_takes_the_longest_name_and_narrows_by_the_others() -> None:
    gaz = _tiny()
    found = gaz.find("舟山市普陀区和上城区")
    assert [(pos, name) for pos, name, _ in found] == [(0, "舟山市"), (3, "普陀区"), (7, "上城区")]
    (putuo,) = found[1][2]  # 普陀区 of 舟山, not of 上海: 舟山市 is named beside it
    assert putuo.code == "330903000000"
    assert [p.name for p in gaz.chain(putuo)] == ["浙江省", "舟山市", "普陀区"]


def test_short_forms_and_containment() -> None:
    gaz = _tiny()
    assert [p.name for p in gaz.by_name["上城"]] == ["上城区"]
    zhejiang, shangcheng = gaz.by_name["浙江省"][0], gaz.by_name["上城区"][0]
    assert zhejiang.contains(shangcheng) and not shangcheng.contains(zhejiang)
    shanghai = gaz.by_name["上海市"][0]
    assert shanghai.contains(gaz.by_name["普陀区"][1])  # a province-level city holds its districts
    assert gaz.resolve(["浙江省", "舟山市", "普陀区"]).code == "330903000000"  # type: ignore[union-attr]


def test_the_real_list_is_loaded_once() -> None:
    assert gazetteer() is gazetteer()
