"""scope.py: which reports a question is about (place and agency factors, stand-ins, years)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

import reportqa.scope as scope_module
from reportqa.agencies import AgencyMention
from reportqa.models import Report
from reportqa.places import Place, gazetteer
from reportqa.query import Query
from reportqa.scope import BROADER, MISMATCH, Scope, covered_years, place_factor, years_fit


def at(*path: str) -> Place:
    """The place of a region path (province first)."""
    place = gazetteer().resolve(path)
    assert place is not None, path
    return place


def report(rid: str, agency: str, region: tuple[str, ...], year: int = 2020) -> Report:
    """A report without passages: the scope reads only its agency, region and year."""
    return Report(
        rid, f"{agency}{year}年工作总结", agency, year, "工作总结", f"{rid}.txt", (), (), region
    )


ZHOUSHAN = ("浙江省", "舟山市")
PUTUO, DINGHAI = (*ZHOUSHAN, "普陀区"), (*ZHOUSHAN, "定海区")
SHANGHAI = ("上海市",)
HUAIAN = ("江苏省", "淮安市")
HONGZE = (*HUAIAN, "洪泽区")
YIXIAN, HAIDIAN = ("河北省", "保定市", "易县"), ("北京市", "海淀区")
REPORTS = (
    report("kj", "舟山市科学技术局", ZHOUSHAN),
    report("kw", "舟山市科学技术委员会", ZHOUSHAN, 2015),  # the older name, in the same place
    report("jx", "舟山市经济和信息化局", ZHOUSHAN),
    report("pt", "舟山市普陀区人民政府办公室", PUTUO),
    report("sh", "上海市经济和信息化委员会", SHANGHAI),
    report("xh", "某协会", ()),  # no place, no kind of agency
)
ORDER = [r.report_id for r in REPORTS]


def ask(
    places: Sequence[Sequence[Place]] = (),
    agencies: Sequence[AgencyMention] = (),
    years: tuple[int, ...] = (),
    *,
    chained: tuple[tuple[int, ...], ...] = (),
    owners: frozenset[int] = frozenset(),
    close: Sequence[str] = (),
) -> Query:
    """A Query naming these entities (nothing else of it is read by the scope)."""
    return Query(
        text="",
        norm="",
        term_weights={},
        topic={},
        places=tuple(tuple(c) for c in places),
        agencies=tuple(agencies),
        years=years,
        value=None,
        chained=chained,
        close_kinds=frozenset(close),
        owners=owners,
    )


def named(text: str, *kinds: str) -> AgencyMention:
    return AgencyMention(text, frozenset(kinds), 0, len(text))


@pytest.fixture(scope="module")
def scope() -> Scope:
    return Scope(REPORTS, gazetteer())


def info(scope: Scope, rid: str) -> scope_module.ReportInfo:
    return scope.reports[ORDER.index(rid)]


def test_reports_are_resolved_and_their_kinds_known(scope: Scope) -> None:
    resolved = [(i.place_code, i.kind) for i in scope.reports]
    assert resolved == [
        ("330900000000", "科学技术局"),
        ("330900000000", "科学技术委员会"),
        ("330900000000", "经济和信息化局"),
        ("330903000000", "人民政府办公室"),
        ("310000000000", "经济和信息化委员会"),
        (None, None),
    ]
    assert scope.known_kinds == {kind: kind for _, kind in resolved if kind}
    assert [p.name for p in scope.held_places] == ["舟山市"] * 3 + ["普陀区", "上海市"]


def test_without_names_only_the_restriction_counts(scope: Scope) -> None:
    assert scope.factors(ask(), None).tolist() == [1.0] * 6
    kept = scope.factors(ask(), frozenset({"kj", "sh", "no-such-report"}))
    assert kept.tolist() == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("path", "factors"),
    [
        (ZHOUSHAN, [1.0, 1.0, 1.0, 1.0, MISMATCH, MISMATCH]),  # 普陀区 lies within 舟山市
        # a report of 普陀区 itself exists: the city's are no longer wider, they are others
        (PUTUO, [MISMATCH, MISMATCH, MISMATCH, 1.0, MISMATCH, MISMATCH]),
        # none of 定海区: the city's reports count as wider
        (DINGHAI, [BROADER, BROADER, BROADER, MISMATCH, MISMATCH, MISMATCH]),
    ],
)
def test_place_factors_of_the_reports(
    scope: Scope, path: tuple[str, ...], factors: list[float]
) -> None:
    q = ask([[at(*path)]])
    assert scope.factors(q, None).tolist() == pytest.approx(factors)
    assert scope.factors(q, None).tolist() == pytest.approx(factors)  # the memo is unharmed


def test_place_and_agency_factors_multiply(scope: Scope) -> None:
    q = ask([[at(*ZHOUSHAN)]], [named("科技局", "科学技术局")], close=["科学技术委员会"])
    # 舟山 holds a 科学技术局, so its 科委 does not stand in for it
    m2 = MISMATCH * MISMATCH  # neither the place nor the agency named
    assert scope.factors(q, None).tolist() == pytest.approx(
        [1.0, MISMATCH, MISMATCH, MISMATCH, m2, m2]
    )


def test_a_close_agency_stands_in_where_the_named_kind_is_not_held(scope: Scope) -> None:
    jingxinwei = ask(agencies=[named("经信委", "经济和信息化委员会")], close=["经济和信息化局"])
    assert scope.stand_in(jingxinwei, info(scope, "jx")) == "经信委"
    assert not scope.named_exactly(jingxinwei, info(scope, "jx"))
    assert scope.named_exactly(jingxinwei, info(scope, "sh"))
    assert scope.stand_in(jingxinwei, info(scope, "sh")) == ""  # its kind is not a close one
    factors = [scope.agency_factor(jingxinwei, i) for i in scope.reports]
    assert factors == [MISMATCH, MISMATCH, 1.0, MISMATCH, 1.0, MISMATCH]  # jx stands in, sh named
    jingxinju = ask(agencies=[named("经信局", "经济和信息化局")], close=["经济和信息化委员会"])
    assert scope.stand_in(jingxinju, info(scope, "sh")) == "经信局"
    kewei = ask(agencies=[named("科委", "科学技术委员会")], close=["科学技术局"])
    assert scope.stand_in(kewei, info(scope, "kj")) == ""  # 舟山 holds a 科委 of its own
    assert scope.stand_in(kewei, info(scope, "xh")) == ""
    assert scope.agency_factor(ask(), info(scope, "xh")) == 1.0  # no agency named


def test_an_unlisted_short_form_of_the_kind_names_it_exactly(scope: Scope) -> None:
    q = ask(agencies=[named("经济信息化委")])  # no kinds: matched as an abbreviation
    assert [r for r in ORDER if scope.named_exactly(q, info(scope, r))] == ["sh"]


CHAIN = {"chained": ((1,), (0,))}  # two places written as one: 舟山市普陀区
OWNS = {"owners": frozenset({0})}  # the place written right before an agency named


@pytest.mark.parametrize(
    ("places", "written", "place", "factor"),
    [
        ([], {}, None, 1.0),
        ([ZHOUSHAN], {}, None, MISMATCH),
        ([ZHOUSHAN], {}, PUTUO, 1.0),
        ([ZHOUSHAN], {}, ("浙江省",), BROADER),
        ([ZHOUSHAN], {}, SHANGHAI, MISMATCH),
        ([ZHOUSHAN, PUTUO], CHAIN, ZHOUSHAN, BROADER),
        ([ZHOUSHAN, PUTUO], CHAIN, DINGHAI, MISMATCH),
        ([ZHOUSHAN, PUTUO], CHAIN, SHANGHAI, MISMATCH),
        ([PUTUO, DINGHAI], {}, ZHOUSHAN, BROADER**2),  # wider than each place named
        # 淮安市人民政府: the city's own agency, not a district's inside it
        ([HUAIAN], OWNS, HONGZE, MISMATCH),
        ([HUAIAN], OWNS, HUAIAN, 1.0),
        ([HUAIAN], {}, HONGZE, 1.0),
        # another place the question speaks of, unless written against the report's own
        ([YIXIAN, HAIDIAN], {}, YIXIAN, 1.0),
        ([YIXIAN, HAIDIAN], CHAIN, YIXIAN, MISMATCH),
    ],
)
def test_place_factor(
    places: list[tuple[str, ...]],
    written: dict[str, Any],
    place: tuple[str, ...] | None,
    factor: float,
) -> None:
    q = ask([[at(*p)] for p in places], **written)
    assert place_factor(q, at(*place) if place else None) == pytest.approx(factor)


@pytest.mark.parametrize(
    ("years", "year", "doc_type", "passage", "fits"),
    [
        ((), 2020, "工作总结", "2019年粮食产量1339亿斤", True),  # no year asked
        ((2020,), 2020, "工作总结", "全年开展学法8次", True),  # the report's own year
        ((2020,), 2020, "工作总结", "2019年粮食产量1339亿斤", False),  # another year named
        ((2020,), 2020, "工作总结", "较2019增长5%", True),  # a bare number is no year
        ((2019,), 2020, "工作总结", "2020年与2019年相比", True),  # named in the passage
        ((2019,), 2020, "工作总结", "全年开展学法8次", False),
        ((2019,), 2020, "政府工作报告", "全年开展学法8次", True),  # the year it reviews
        ((2019, 2020), 2020, "政府工作报告", "全年开展学法8次", True),
    ],
)
def test_years_fit(
    years: tuple[int, ...], year: int, doc_type: str, passage: str, fits: bool
) -> None:
    r = Report("r", "", "", year, doc_type, "r.txt", ())
    assert years_fit(ask(years=years), r, passage) is fits


def test_covered_years() -> None:
    plan = Report("p", "", "", 2021, "工作要点", "p.txt", ())
    assert covered_years(plan) == (2021,)
    assert covered_years(dataclasses.replace(plan, doc_type="政府工作报告")) == (2021, 2020)
    assert covered_years(dataclasses.replace(plan, year=None)) == ()


def test_a_memo_is_emptied_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scope_module, "MEMO_LIMIT", 2)
    memo: dict[object, np.ndarray] = {}
    first = scope_module._remembered(memo, "a", lambda: np.array([1.0]))
    assert scope_module._remembered(memo, "a", lambda: np.array([2.0])) is first
    scope_module._remembered(memo, "b", lambda: np.array([3.0]))
    scope_module._remembered(memo, "c", lambda: np.array([4.0]))
    assert list(memo) == ["c"]
